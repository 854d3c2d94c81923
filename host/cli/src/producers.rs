//! Which SDK built a component, read from the wasm `producers` custom
//! sections (in the component or in its core modules): the Python SDK's
//! build command adds `cairn-python-sdk` and `componentize-py` under
//! `processed-by` (componentize-py itself names only the tools under it);
//! anything else is taken for the Rust SDK, whose manifest version it is.
//! Only for people to read: the bytes are untrusted, so the walk is bounded
//! and any malformed part ends it.

/// The deepest nesting of components and modules walked.
const MAX_DEPTH: usize = 4;

/// The most producer entries kept.
const MAX_ENTRIES: usize = 64;

/// The SDK that built a component of manifest version `sdk_version`, as
/// `inspect` shows it: `cairn Python SDK 0.1.0 (componentize-py 0.25.1)`
/// or `cairn-guest 0.1.0` (Rust).
pub(crate) fn sdk_name(bytes: &[u8], sdk_version: &str) -> String {
    let mut entries = Vec::new();
    walk(bytes, 0, &mut entries);
    let find = |name: &str| {
        entries
            .iter()
            .find(|(field, tool, _)| field == "processed-by" && tool == name)
            .map(|(_, _, version)| version.clone())
    };
    if find("cairn-python-sdk").is_some() {
        return match find("componentize-py") {
            Some(version) => format!(
                "cairn Python SDK {sdk_version} (componentize-py {})",
                version.split_whitespace().next().unwrap_or_default()
            ),
            None => format!("cairn Python SDK {sdk_version}"),
        };
    }
    format!("cairn-guest {sdk_version}")
}

/// Collects (field, name, version) of every producers section in a
/// component or module binary and the modules and components it nests.
fn walk(bytes: &[u8], depth: usize, out: &mut Vec<(String, String, String)>) {
    if depth > MAX_DEPTH || bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return;
    }
    let is_component = bytes[6..8] == [1, 0];
    let mut reader = Reader { bytes, at: 8 };
    while reader.at < bytes.len() && out.len() < MAX_ENTRIES {
        let Some(id) = reader.byte() else { return };
        let Some(size) = reader.leb() else { return };
        let Some(payload) = reader.take(size) else {
            return;
        };
        match id {
            0 => custom(payload, out),
            // A nested core module (1) or component (4) of a component.
            1 | 4 if is_component => walk(payload, depth + 1, out),
            _ => {}
        }
    }
}

/// A custom section: only `producers` is read.
fn custom(payload: &[u8], out: &mut Vec<(String, String, String)>) {
    let mut reader = Reader {
        bytes: payload,
        at: 0,
    };
    if reader.name().as_deref() != Some("producers") {
        return;
    }
    let Some(fields) = reader.leb() else { return };
    for _ in 0..fields.min(MAX_ENTRIES) {
        let Some(field) = reader.name() else { return };
        let Some(values) = reader.leb() else { return };
        for _ in 0..values.min(MAX_ENTRIES) {
            let (Some(name), Some(version)) = (reader.name(), reader.name()) else {
                return;
            };
            if out.len() < MAX_ENTRIES {
                out.push((field.clone(), name, version));
            }
        }
    }
}

/// A cursor over bytes that never reads past their end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// An unsigned LEB128 of at most 32 bits.
    fn leb(&mut self) -> Option<usize> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(value).ok();
            }
        }
        None
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(len)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    /// A length-prefixed string, kept to printable text.
    fn name(&mut self) -> Option<String> {
        let len = self.leb()?;
        let raw = self.take(len)?;
        Some(
            String::from_utf8_lossy(raw)
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producers(tools: &[(&str, &str)]) -> Vec<u8> {
        let mut payload = vec![9];
        payload.extend(b"producers");
        payload.push(1);
        payload.push(12);
        payload.extend(b"processed-by");
        payload.push(u8::try_from(tools.len()).expect("short"));
        for (tool, version) in tools {
            payload.push(u8::try_from(tool.len()).expect("short"));
            payload.extend(tool.as_bytes());
            payload.push(u8::try_from(version.len()).expect("short"));
            payload.extend(version.as_bytes());
        }
        let mut section = vec![0, u8::try_from(payload.len()).expect("short")];
        section.extend(payload);
        section
    }

    #[test]
    fn the_python_sdks_stamp_inside_a_component_is_named() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(producers(&[
            ("componentize-py", "0.25.1 (abc)"),
            ("cairn-python-sdk", "0.1.0"),
        ]));
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        component.push(1);
        component.push(u8::try_from(module.len()).expect("short"));
        component.extend(&module);
        assert_eq!(
            sdk_name(&component, "0.1.0"),
            "cairn Python SDK 0.1.0 (componentize-py 0.25.1)"
        );
    }

    #[test]
    fn anything_else_or_garbage_is_the_rust_sdk() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(producers(&[("wit-bindgen-rust", "0.46")]));
        assert_eq!(sdk_name(&module, "0.1.0"), "cairn-guest 0.1.0");
        assert_eq!(
            sdk_name(b"\0asm\x0d\0\x01\0\x00\xff\xff", "0.1.0"),
            "cairn-guest 0.1.0"
        );
        assert_eq!(sdk_name(b"", "0.1.0"), "cairn-guest 0.1.0");
    }
}
