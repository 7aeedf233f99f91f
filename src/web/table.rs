//! What every long table of the pages shares: its query string (`?q=…&sort=…&dir=…&page=…`
//! beside the page's own filters), the window to ask the owning module for, and the links
//! the template needs (sortable headers with `aria-sort`, the pager). Plain links and GET
//! forms: sorting, filtering and paging work without JavaScript. Touches nothing but the
//! contracts' window types; `templates/partials/pager.html` renders the pager.

use plantd_contracts::window::{SortDir, Window};
use serde::Deserialize;

/// The table part of a page's query string; unknown or bad values fall back to defaults
/// (a link someone edited by hand still shows the table).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TableQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
    #[serde(default)]
    pub page: String,
}

/// One table's state as a page shows it.
#[derive(Debug, Clone)]
pub struct Table {
    path: &'static str,
    /// The page's own filters, kept in every link.
    keep: Vec<(&'static str, String)>,
    pub q: String,
    pub sort: &'static str,
    pub dir: SortDir,
    /// 1-based.
    pub page: u32,
    pub total: u64,
    /// Rows on one page (`ui_page_size`).
    rows: u32,
}

impl Table {
    /// The table at `path` for `query`, `rows` to a page (at least one); `sort` is the key
    /// asked for if `keys` holds it, else `default`.
    pub fn new(
        path: &'static str,
        query: &TableQuery,
        keys: &[&'static str],
        default: (&'static str, SortDir),
        rows: u32,
    ) -> Table {
        let (sort, dir) = match keys.iter().find(|k| **k == query.sort) {
            Some(key) => (*key, SortDir::parse(&query.dir).unwrap_or(SortDir::Asc)),
            None => default,
        };
        Table {
            path,
            keep: Vec::new(),
            q: query.q.trim().to_owned(),
            sort,
            dir,
            page: query.page.parse().unwrap_or(1).max(1),
            total: 0,
            rows: rows.max(1),
        }
    }

    /// Keeps a filter in the links (empty values are left out).
    pub fn keep(mut self, name: &'static str, value: &str) -> Table {
        if !value.is_empty() {
            self.keep.push((name, value.to_owned()));
        }
        self
    }

    /// The search text, if any.
    pub fn search(&self) -> Option<String> {
        Some(self.q.clone()).filter(|q| !q.is_empty())
    }

    /// The rows of this page.
    pub fn window(&self) -> Window {
        Window {
            offset: (self.page - 1).saturating_mul(self.rows),
            limit: self.rows,
        }
    }

    /// Notes the total the module counted; a page past the end shows the last one's number.
    pub fn counted(mut self, total: u64) -> Table {
        self.total = total;
        let shown = match self.first_row() {
            0 => 0,
            first => self.last_row() + 1 - first,
        };
        metrics::histogram!("plantd_web_table_rows").record(shown as f64);
        self
    }

    pub fn pages(&self) -> u32 {
        u32::try_from(self.total.div_ceil(u64::from(self.rows)))
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// The first row shown, 1-based (0 when there are none).
    pub fn first_row(&self) -> u64 {
        let first = u64::from(self.page - 1) * u64::from(self.rows) + 1;
        if first > self.total {
            0
        } else {
            first
        }
    }

    pub fn last_row(&self) -> u64 {
        (u64::from(self.page) * u64::from(self.rows)).min(self.total)
    }

    fn href(&self, sort: &str, dir: SortDir, page: u32) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.keep {
            query.append_pair(name, value);
        }
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        query.append_pair("sort", sort);
        query.append_pair("dir", dir.as_str());
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        format!("{}?{}", self.path, query.finish())
    }

    /// The header link of a column: sorts by it ascending, or flips the direction when it
    /// is the sort already; back to the first page either way.
    pub fn sort_href(&self, key: &str) -> String {
        let dir = if key == self.sort {
            self.dir.flipped()
        } else {
            SortDir::Asc
        };
        self.href(key, dir, 1)
    }

    /// `aria-sort` of a column header.
    pub fn aria_sort(&self, key: &str) -> &'static str {
        match (key == self.sort, self.dir) {
            (false, _) => "none",
            (true, SortDir::Asc) => "ascending",
            (true, SortDir::Desc) => "descending",
        }
    }

    /// A visible marker of the sorted column (the header's `aria-sort` says it to readers).
    pub fn arrow(&self, key: &str) -> &'static str {
        match (key == self.sort, self.dir) {
            (false, _) => "",
            (true, SortDir::Asc) => " ▲",
            (true, SortDir::Desc) => " ▼",
        }
    }

    pub fn page_href(&self, page: u32) -> String {
        self.href(self.sort, self.dir, page)
    }

    pub fn prev_href(&self) -> Option<String> {
        (self.page > 1).then(|| self.page_href(self.page.min(self.pages() + 1) - 1))
    }

    pub fn next_href(&self) -> Option<String> {
        (self.page < self.pages()).then(|| self.page_href(self.page + 1))
    }

    pub fn last_href(&self) -> String {
        self.page_href(self.pages())
    }

    pub fn first_href(&self) -> String {
        self.page_href(1)
    }

    /// The sort and direction as a filter form's hidden fields keep them.
    pub fn dir_str(&self) -> &'static str {
        self.dir.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(sort: &str, dir: &str, page: &str, q: &str) -> TableQuery {
        TableQuery {
            q: q.to_owned(),
            sort: sort.to_owned(),
            dir: dir.to_owned(),
            page: page.to_owned(),
        }
    }

    #[test]
    fn links_keep_filters_and_flip_the_sorted_column() {
        let t = Table::new(
            "/devices",
            &query("name", "asc", "2", "pump 5"),
            &["id", "name"],
            ("id", SortDir::Asc),
            50,
        )
        .keep("state", "online")
        .keep("kind", "")
        .counted(120);
        assert_eq!(
            t.window(),
            Window {
                offset: 50,
                limit: 50
            }
        );
        assert_eq!(t.pages(), 3);
        assert_eq!((t.first_row(), t.last_row()), (51, 100));
        assert_eq!(
            t.sort_href("name"),
            "/devices?state=online&q=pump+5&sort=name&dir=desc"
        );
        assert_eq!(
            t.sort_href("id"),
            "/devices?state=online&q=pump+5&sort=id&dir=asc"
        );
        assert_eq!(
            t.next_href().as_deref(),
            Some("/devices?state=online&q=pump+5&sort=name&dir=asc&page=3")
        );
        assert_eq!(t.aria_sort("name"), "ascending");
        assert_eq!(t.aria_sort("id"), "none");
    }

    #[test]
    fn bad_values_fall_back() {
        let t = Table::new(
            "/x",
            &query("password", "sideways", "-3", ""),
            &["id"],
            ("id", SortDir::Desc),
            50,
        );
        assert_eq!((t.sort, t.dir, t.page), ("id", SortDir::Desc, 1));
        assert!(t.prev_href().is_none());
        assert_eq!(t.first_row(), 0);
    }
}
