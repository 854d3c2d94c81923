//! HTML that is escaped by construction: markup can only come from string
//! literals in this crate (`&'static str`), and every other text goes
//! through [`Html::text`] or [`Html::attr`], which escape it. Guest code
//! writes names, outputs, logs and errors; none of it can become markup.

use std::fmt::Write as _;

/// A page or a fragment being written.
#[derive(Default)]
pub(crate) struct Html {
    out: String,
}

impl Html {
    pub(crate) fn new() -> Html {
        Html::default()
    }

    /// Markup from this crate's source: a literal, never data.
    pub(crate) fn raw(&mut self, markup: &'static str) -> &mut Html {
        self.out.push_str(markup);
        self
    }

    /// Text shown as text, in an element's content.
    pub(crate) fn text(&mut self, text: &str) -> &mut Html {
        escape_into(&mut self.out, text);
        self
    }

    /// A number: digits need no escaping. Only integer types are accepted,
    /// so this cannot become a way around [`Html::text`].
    pub(crate) fn num(&mut self, n: impl Number) -> &mut Html {
        let _ = write!(self.out, "{}", n.digits());
        self
    }

    /// ` name="value"`, the value escaped for a double-quoted attribute.
    pub(crate) fn attr(&mut self, name: &'static str, value: &str) -> &mut Html {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_into(&mut self.out, value);
        self.out.push('"');
        self
    }

    /// Another fragment, already escaped.
    pub(crate) fn fragment(&mut self, other: Html) -> &mut Html {
        self.out.push_str(&other.out);
        self
    }

    /// How many bytes are written so far (after escaping): what a page
    /// weighs.
    pub(crate) fn bytes_written(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn into_string(self) -> String {
        self.out
    }
}

/// The integer types [`Html::num`] writes.
pub(crate) trait Number {
    /// The number as a value whose `Display` is digits only.
    fn digits(self) -> i128;
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn digits(self) -> i128 {
                i128::try_from(self).unwrap_or(i128::MAX)
            }
        }
    )*};
}

number!(u32, u64, usize, i64);

/// Escapes `text` into `out` for element content and double- or
/// single-quoted attributes. Controls a terminal or a bidi-aware renderer
/// would act on (ANSI escapes, C1 controls, direction overrides) are shown
/// escaped, `\u{1b}`, as the CLI shows them, so hostile text cannot
/// disguise itself either.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if cairn_host::json_out::is_unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Html;

    #[test]
    fn text_and_attributes_cannot_become_markup() {
        let mut html = Html::new();
        html.raw("<p")
            .attr("title", "\"><script>alert(1)</script>")
            .raw(">")
            .text("<img src=x onerror=alert(1)> & 'q'")
            .raw("</p>");
        assert_eq!(
            html.into_string(),
            "<p title=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">&lt;img src=x onerror=alert(1)&gt; &amp; &#39;q&#39;</p>"
        );
    }

    #[test]
    fn controls_are_shown_not_obeyed() {
        let mut html = Html::new();
        html.text("\u{1b}[2J\u{7}\r\u{9b}\u{202e}x\n");
        assert_eq!(
            html.into_string(),
            "\\u{1b}[2J\\u{7}\\u{d}\\u{9b}\\u{202e}x\n"
        );
    }
}
