//! Windows over long lists for the pages' tables: which slice (`Window`), in which order
//! (`SortDir` with a module's own sort key enum), and the reply (`Windowed`: the slice and
//! how many rows the filter matched in all, so a page can say "41–60 of 1,000"). Plain
//! serde types; each owning module answers its own `Browse…` message with them.

use serde::{Deserialize, Serialize};

/// Longest table search text taken (longer is cut: it would match nothing useful anyway).
pub const MAX_SEARCH_TEXT: usize = 100;

/// A table search as a `LIKE` operand's text: lower case, cut at [`MAX_SEARCH_TEXT`]
/// characters, with `LIKE`'s `\`, `%` and `_` escaped by `\` (the query says `ESCAPE '\'`).
pub fn like_text(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for ch in q.chars().take(MAX_SEARCH_TEXT).flat_map(char::to_lowercase) {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// The text a table search matches, stored beside a row: the words a person sees of it
/// (never a JSON document's keys or escapes), empty ones left out, joined by spaces and
/// lowered one character at a time as [`like_text`] lowers what is typed, so both sides
/// agree on every backend (SQLite's `lower()` folds ASCII letters only).
pub fn search_text(words: &[Option<&str>]) -> String {
    let mut out = String::new();
    for word in words.iter().flatten().filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The rows `offset .. offset + limit` of the ordered, filtered list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub offset: u32,
    pub limit: u32,
}

impl Window {
    /// The most rows one window may ask for.
    pub const MAX_LIMIT: u32 = 1000;

    /// The limit clamped to `1..=MAX_LIMIT`.
    pub fn limit(&self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }
}

impl Default for Window {
    fn default() -> Self {
        Window {
            offset: 0,
            limit: 50,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortDir {
    #[default]
    Asc,
    Desc,
}

impl SortDir {
    pub fn parse(s: &str) -> Option<SortDir> {
        match s {
            "asc" => Some(SortDir::Asc),
            "desc" => Some(SortDir::Desc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SortDir::Asc => "asc",
            SortDir::Desc => "desc",
        }
    }

    pub fn flipped(self) -> SortDir {
        match self {
            SortDir::Asc => SortDir::Desc,
            SortDir::Desc => SortDir::Asc,
        }
    }
}

/// One window of a list and the size of the whole (filtered) list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Windowed<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl<T> Windowed<T> {
    /// Slices an already ordered in-memory list (for modules that hold theirs in memory).
    pub fn slice(all: Vec<T>, window: Window) -> Windowed<T> {
        let total = all.len() as u64;
        let items = all
            .into_iter()
            .skip(window.offset as usize)
            .take(window.limit() as usize)
            .collect();
        Windowed { items, total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_lowers_every_letter_as_typed_text_is_lowered() {
        let stored = search_text(&[Some("WO-7"), None, Some(""), Some("Überdruck ΣΑΣ")]);
        assert_eq!(stored, "wo-7 überdruck σασ");
        assert!(stored.contains(&like_text("ÜBERDRUCK")));
        assert!(stored.contains(&like_text("ΣΑΣ")));
    }

    #[test]
    fn slices_and_counts() {
        let w = Windowed::slice(
            (0..10).collect::<Vec<_>>(),
            Window {
                offset: 8,
                limit: 5,
            },
        );
        assert_eq!(w.items, vec![8, 9]);
        assert_eq!(w.total, 10);
        let none = Windowed::slice(
            vec![1],
            Window {
                offset: 0,
                limit: 0,
            },
        );
        assert_eq!(none.items, vec![1], "a zero limit means one row, not none");
    }
}
