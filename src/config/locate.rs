//! Where in the text an error is: the dotted key path at a byte offset, the line of a key
//! path, and serde's messages in French.

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    // Bytes, not `str` slicing: an offset may fall inside a multi-byte character.
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// The dotted path of the deepest key whose key or value covers `offset`.
pub(super) fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let mut path = Vec::new();
    if find_in_table(doc.as_table(), offset, &mut path) { Some(path.join(".")) } else { None }
}

fn find_in_table(table: &dyn toml_edit::TableLike, offset: usize, path: &mut Vec<String>) -> bool {
    for (key, item) in table.iter() {
        let key_span = table.key(key).and_then(|k| k.span());
        let covers = |span: Option<std::ops::Range<usize>>| span.is_some_and(|s| s.contains(&offset));
        path.push(key.to_string());
        if find_in_item(item, offset, path) {
            return true;
        }
        if covers(key_span) || covers(item.span()) {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_item(item: &toml_edit::Item, offset: usize, path: &mut Vec<String>) -> bool {
    match item {
        toml_edit::Item::Table(t) => find_in_table(t, offset, path),
        toml_edit::Item::ArrayOfTables(array) => {
            find_indexed(array.iter(), path, |t, path| find_in_table(t, offset, path))
        }
        toml_edit::Item::Value(value) => find_in_value(value, offset, path),
        toml_edit::Item::None => false,
    }
}

fn find_in_value(value: &toml_edit::Value, offset: usize, path: &mut Vec<String>) -> bool {
    match value {
        toml_edit::Value::InlineTable(t) => find_in_table(t, offset, path),
        toml_edit::Value::Array(array) => find_indexed(array.iter(), path, |v, path| {
            find_in_value(v, offset, path) || v.span().is_some_and(|s| s.contains(&offset))
        }),
        _ => false,
    }
}

/// Tries `found` on each element, with `[i]` appended to the last path segment; when none
/// matches, the path is left as it was.
fn find_indexed<T>(
    items: impl Iterator<Item = T>,
    path: &mut Vec<String>,
    mut found: impl FnMut(T, &mut Vec<String>) -> bool,
) -> bool {
    let Some(base) = path.last().cloned() else { return false };
    for (i, item) in items.enumerate() {
        if let Some(last) = path.last_mut() {
            *last = format!("{base}[{i}]");
        }
        if found(item, path) {
            return true;
        }
    }
    if let Some(last) = path.last_mut() {
        *last = base;
    }
    false
}

/// The line where a dotted key path (with `[i]` indexes) is written, or its closest parent.
pub(super) fn line_of_key(text: &str, path: &str) -> Option<usize> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let mut best: Option<usize> = None;
    let mut table: Option<&dyn toml_edit::TableLike> = Some(doc.as_table());
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some((key, found)) = table.and_then(|t| t.get_key_value(name)) else {
            return best;
        };
        if let Some(span) = key.span() {
            best = Some(line_of(text, span.start));
        }
        table = found.as_table_like();
        if let Some(i) = index {
            match found {
                toml_edit::Item::ArrayOfTables(array) => {
                    let Some(t) = array.get(i) else { return best };
                    if let Some(span) = t.span() {
                        best = Some(line_of(text, span.start));
                    }
                    table = Some(t);
                }
                toml_edit::Item::Value(toml_edit::Value::Array(array)) => {
                    let Some(v) = array.get(i) else { return best };
                    if let Some(span) = v.span() {
                        best = Some(line_of(text, span.start));
                    }
                    table = v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike);
                }
                _ => return best,
            }
        }
    }
    best
}

/// serde's messages, in French where they are the common ones.
pub(super) fn french_serde_message(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected.trim_start_matches(", expected ").replace("one of ", "").replace('`', "");
        return format!("clé « {field} » inconnue (clés possibles : {expected})");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        return format!("type incorrect : {rest}");
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return format!("clé « {} » obligatoire", rest.trim_end_matches('`'));
    }
    format!("syntaxe TOML invalide : {message}")
}
