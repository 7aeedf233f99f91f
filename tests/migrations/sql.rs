//! Which tables (and indexes, views, sequences, triggers) a migration's SQL names, for the
//! ownership check. Not a SQL parser: it strips comments and string literals, splits the
//! rest into words, and picks the name after `CREATE|ALTER|DROP <kind>`, `INTO`, `UPDATE`,
//! `FROM`, `JOIN`, `REFERENCES`, `TRUNCATE`, `RENAME TO` and an index's or trigger's `ON`.
//! It errs on the side of reporting: a name it cannot place (`EXTRACT(x FROM y)` reads as a
//! table `y`) fails the check loudly rather than letting a statement through.

/// One name a statement touches, and how: `create table`, `insert into`, `from`, ….
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub how: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Punct(char),
}

/// Object kinds whose names belong to a module: in PostgreSQL they share one namespace.
const KINDS: &[&str] = &["table", "index", "view", "sequence", "trigger"];

/// Words that may stand between `CREATE` and the kind (`CREATE UNIQUE INDEX`).
const CREATE_MODIFIERS: &[&str] = &[
    "or",
    "replace",
    "temp",
    "temporary",
    "unique",
    "unlogged",
    "materialized",
    "global",
    "local",
];

/// Words that end a `FROM` list's item instead of naming its alias.
const CLAUSES: &[&str] = &[
    "where",
    "join",
    "inner",
    "left",
    "right",
    "full",
    "cross",
    "natural",
    "on",
    "using",
    "group",
    "order",
    "limit",
    "offset",
    "union",
    "except",
    "intersect",
    "having",
    "window",
    "returning",
    "set",
    "values",
    "select",
];

/// Every name `sql` touches, in order.
pub fn touches(sql: &str) -> Vec<Touch> {
    let tokens = tokenize(sql);
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => Some(w.as_str()),
        _ => None,
    };
    let mut found = Vec::new();
    let mut push = |how: &str, name: String| {
        found.push(Touch {
            how: how.to_owned(),
            name,
        })
    };
    for i in 0..tokens.len() {
        let Some(w) = word(i) else { continue };
        let prev = i.checked_sub(1).and_then(word);
        match w {
            "create" | "alter" | "drop" => {
                let mut j = i + 1;
                if w == "create" {
                    while word(j).is_some_and(|m| CREATE_MODIFIERS.contains(&m)) {
                        j += 1;
                    }
                }
                let Some(kind) = word(j).filter(|k| KINDS.contains(k)) else {
                    continue;
                };
                j = skip_words(
                    &tokens,
                    j + 1,
                    &["if", "not", "exists", "only", "concurrently"],
                );
                let how = format!("{w} {kind}");
                // `CREATE INDEX ON t (…)` (PostgreSQL) has no index name.
                if word(j) != Some("on") {
                    while let Some((name, next)) = name_at(&tokens, j) {
                        push(&how, name);
                        j = next;
                        if tokens.get(j) != Some(&Token::Punct(',')) || w != "drop" {
                            break;
                        }
                        j += 1;
                    }
                }
                if kind == "index" || kind == "trigger" {
                    let on = (j..tokens.len())
                        .take_while(|&k| tokens[k] != Token::Punct(';'))
                        .find(|&k| word(k) == Some("on"));
                    if let Some((name, _)) =
                        on.and_then(|k| name_at(&tokens, skip_words(&tokens, k + 1, &["only"])))
                    {
                        push(&format!("{kind} on"), name);
                    }
                }
            }
            "into" | "join" | "references" => {
                if let Some((name, _)) = name_at(&tokens, skip_words(&tokens, i + 1, &["only"])) {
                    push(w, name);
                }
            }
            "update" => {
                // Not a statement after `ON` (`ON UPDATE CASCADE`) or `FOR`, nor before
                // `SET` (`DO UPDATE SET`) or a trigger's `OF` / `ON`.
                if matches!(prev, Some("on" | "for")) {
                    continue;
                }
                let mut j = i + 1;
                if word(j) == Some("or") {
                    j += 2;
                }
                j = skip_words(&tokens, j, &["only"]);
                if word(j).is_some_and(|n| ["set", "of", "on"].contains(&n)) {
                    continue;
                }
                if let Some((name, _)) = name_at(&tokens, j) {
                    push("update", name);
                }
            }
            "rename" if word(i + 1) == Some("to") => {
                if let Some((name, _)) = name_at(&tokens, i + 2) {
                    push("rename to", name);
                }
            }
            "from" | "truncate" => {
                if prev == Some("distinct") {
                    continue;
                }
                let how = match (w, prev) {
                    ("from", Some("delete")) => "delete from",
                    _ => w,
                };
                let mut j = skip_words(&tokens, i + 1, &["table", "only"]);
                while let Some((name, next)) = name_at(&tokens, j) {
                    push(how, name);
                    j = next;
                    if word(j) == Some("as") {
                        j += 1;
                    }
                    if word(j).is_some_and(|a| !CLAUSES.contains(&a)) {
                        j += 1;
                    }
                    if tokens.get(j) != Some(&Token::Punct(',')) {
                        break;
                    }
                    j += 1;
                }
            }
            _ => {}
        }
    }
    found
}

/// The index of the first token from `i` on that is not one of `words`.
fn skip_words(tokens: &[Token], mut i: usize, words: &[&str]) -> usize {
    while matches!(tokens.get(i), Some(Token::Word(w)) if words.contains(&w.as_str())) {
        i += 1;
    }
    i
}

/// The (possibly schema-qualified) name at `i`, without its schema, and the index after it.
fn name_at(tokens: &[Token], mut i: usize) -> Option<(String, usize)> {
    let Some(Token::Word(first)) = tokens.get(i) else {
        return None;
    };
    let mut name = first.clone();
    i += 1;
    while tokens.get(i) == Some(&Token::Punct('.')) {
        let Some(Token::Word(part)) = tokens.get(i + 1) else {
            break;
        };
        name = part.clone();
        i += 2;
    }
    Some((name, i))
}

/// Words (lower-cased; a quoted identifier as written) and punctuation, without comments,
/// string literals, numbers or PostgreSQL's `$tag$` quotes (whose body is still read).
fn tokenize(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || c == '"' {
            // '' (or "") inside is an escaped quote: the literal goes on.
            let mut text = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == c && chars.get(i + 1) == Some(&c) {
                    text.push(c);
                    i += 2;
                } else if chars[i] == c {
                    i += 1;
                    break;
                } else {
                    text.push(chars[i]);
                    i += 1;
                }
            }
            if c == '"' {
                tokens.push(Token::Word(text));
            }
        } else if c == '$' {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            if chars.get(i) == Some(&'$') {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(Token::Word(word.to_lowercase()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else {
            if !c.is_whitespace() {
                tokens.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    tokens
}

#[cfg(test)]
fn pairs(sql: &str) -> Vec<(String, String)> {
    touches(sql).into_iter().map(|t| (t.how, t.name)).collect()
}

#[cfg(test)]
fn expect(sql: &str, expected: &[(&str, &str)]) {
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(h, n)| (h.to_string(), n.to_string()))
        .collect();
    assert_eq!(pairs(sql), expected, "{sql}");
}

#[test]
fn sql_names_created_altered_and_dropped_objects() {
    expect(
        "CREATE TABLE IF NOT EXISTS a_t (id BIGINT PRIMARY KEY, b TEXT REFERENCES \"B_t\" (id));\n\
         create unique index a_i on public.a_t (b);\n\
         CREATE INDEX ON a_u (x);\n\
         ALTER TABLE ONLY a_t ADD COLUMN c TEXT NOT NULL DEFAULT 'x FROM y';\n\
         ALTER TABLE a_t RENAME TO a_v; ALTER TABLE a_v RENAME COLUMN c TO d;\n\
         DROP TABLE IF EXISTS a_v, a_w; DROP INDEX a_i; DROP TRIGGER a_g ON a_x;\n\
         CREATE TRIGGER a_h AFTER INSERT OR UPDATE OF c ON a_y FOR EACH ROW\n\
           BEGIN UPDATE a_z SET n = 1; END;",
        &[
            ("create table", "a_t"),
            ("references", "B_t"),
            ("create index", "a_i"),
            ("index on", "a_t"),
            ("index on", "a_u"),
            ("alter table", "a_t"),
            ("alter table", "a_t"),
            ("rename to", "a_v"),
            ("alter table", "a_v"),
            ("drop table", "a_v"),
            ("drop table", "a_w"),
            ("drop index", "a_i"),
            ("drop trigger", "a_g"),
            ("trigger on", "a_x"),
            ("create trigger", "a_h"),
            ("trigger on", "a_y"),
            ("update", "a_z"),
        ],
    );
}

#[test]
fn sql_names_tables_written_and_read() {
    expect(
        "-- INSERT INTO commented_out\n\
         /* DELETE FROM commented_out */\n\
         INSERT OR IGNORE INTO a_t (x) SELECT m.x FROM b_t m JOIN c_t AS n ON n.id = m.id\n\
           ON CONFLICT (x) DO UPDATE SET x = 1;\n\
         INSERT INTO a_t SELECT 1 FROM d_t, d_u AS u;\n\
         UPDATE a_t SET x = 2 FROM e_t WHERE a_t.x IS DISTINCT FROM e_t.x;\n\
         DELETE FROM f_t WHERE id IN (SELECT id FROM g_t);\n\
         TRUNCATE TABLE h_t; REPLACE INTO i_t VALUES (1, 'it''s');\n\
         DO $body$ BEGIN INSERT INTO j_t VALUES (2); END $body$;\n\
         CREATE TABLE k_t (id BIGINT REFERENCES l_t (id) ON UPDATE CASCADE ON DELETE CASCADE);",
        &[
            ("into", "a_t"),
            ("from", "b_t"),
            ("join", "c_t"),
            ("into", "a_t"),
            ("from", "d_t"),
            ("from", "d_u"),
            ("update", "a_t"),
            ("from", "e_t"),
            ("delete from", "f_t"),
            ("from", "g_t"),
            ("truncate", "h_t"),
            ("into", "i_t"),
            ("into", "j_t"),
            ("create table", "k_t"),
            ("references", "l_t"),
        ],
    );
}
