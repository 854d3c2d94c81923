//! Renders a Markdown document into a page: its outline, its HTML and its
//! word count, each a journaled checkpoint.
//!
//! ```text
//! cargo xtask build-guests
//! cairn run target/wasm32-wasip2/guest/markdown.wasm \
//!     --input '{"markdown": "# Title\n\nSome *text*."}'
//! ```
//!
//! The parsing runs in isolated checkpoints: a document is untrusted input,
//! and a pathological one can at worst exhaust its own sandbox.

use cairn_guest::{Error, checkpoint, flow};
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd, html};
use serde::{Deserialize, Serialize};

/// The rendered page.
#[derive(Serialize, Deserialize)]
pub struct Page {
    /// The first top-level heading, or "untitled".
    pub title: String,
    /// Every heading's text, in order.
    pub headings: Vec<String>,
    /// The document as HTML.
    pub html: String,
    /// Words of text (not markup).
    pub words: u32,
}

/// The text of every heading, in document order.
#[checkpoint(runtime = "isolated")]
fn outline(markdown: String) -> Vec<(u8, String)> {
    let mut headings = Vec::new();
    let mut current: Option<(u8, String)> = None;
    for event in Parser::new(&markdown) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((depth(level), String::new()))
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, heading)) = current.as_mut() {
                    heading.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => headings.extend(current.take()),
            _ => {}
        }
    }
    headings
}

/// The document as HTML.
#[checkpoint(runtime = "isolated")]
fn to_html(markdown: String) -> String {
    let mut out = String::new();
    html::push_html(&mut out, Parser::new(&markdown));
    out
}

/// Words of text, ignoring markup.
#[checkpoint(kind = "metric")]
fn count_words(markdown: String) -> u32 {
    let words = Parser::new(&markdown)
        .filter_map(|event| match event {
            Event::Text(text) | Event::Code(text) => Some(text.split_whitespace().count()),
            _ => None,
        })
        .sum::<usize>();
    u32::try_from(words).unwrap_or(u32::MAX)
}

/// Renders `markdown` into a [`Page`].
#[flow]
fn render(markdown: String) -> Result<Page, Error> {
    let headings = outline(markdown.clone())?;
    let html = to_html(markdown.clone())?;
    let words = count_words(markdown)?;
    let title = headings
        .iter()
        .find(|(level, _)| *level == 1)
        .map_or_else(|| "untitled".to_owned(), |(_, text)| text.clone());
    Ok(Page {
        title,
        headings: headings.into_iter().map(|(_, text)| text).collect(),
        html,
        words,
    })
}

fn depth(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests {
    //! Native tests: `cargo test -p markdown` runs pulldown-cmark in the
    //! test process (natively there is no sandbox around the isolated
    //! checkpoints).

    use cairn_guest::testing::FlowTest;

    use super::*;

    #[test]
    fn a_document_becomes_a_page() {
        let markdown = "# Title\n\nSome *text* here.\n\n## Part `two`\n";
        let run = FlowTest::new().run(|| render(markdown.to_owned()));
        let page = run.output.as_ref().expect("the flow completes");
        assert_eq!(page.title, "Title");
        assert_eq!(page.headings, ["Title", "Part two"]);
        assert!(page.html.contains("<em>text</em>"), "{}", page.html);
        assert_eq!(page.words, 6, "headings count, markup does not");
        assert_eq!(run.call_ids(), ["outline", "to_html", "count_words"]);
    }

    #[test]
    fn a_document_without_a_top_heading_is_untitled() {
        let run = FlowTest::new().run(|| render("## Only a part\n".to_owned()));
        assert_eq!(run.output.map(|page| page.title), Ok("untitled".to_owned()));
    }

    #[test]
    fn outline_keeps_levels_in_document_order() {
        assert_eq!(
            outline("# A\n### B\n## C\n".to_owned()),
            Ok(vec![
                (1, "A".to_owned()),
                (3, "B".to_owned()),
                (2, "C".to_owned())
            ])
        );
    }
}
