//! Splitting a multi-statement COM_QUERY into statements.
//!
//! MySQL runs `a; b; c` one statement at a time and stops at the first
//! error, so statements are cut apart before parsing: a syntax error in the
//! third must not stop the first two. Semicolons inside quotes (`'`, `"`,
//! `` ` ``, with backslash and doubled-quote escapes) and comments (`-- `,
//! `#`, `/* */`) do not split.

/// The statements of `sql`, trimmed, empty ones dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' && q != b'`' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'#' => i = skip_line(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = skip_line(b, i)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b';' => {
                push(&mut out, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        push(&mut out, &sql[start..]);
    }
    out
}

fn skip_line(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

fn push(out: &mut Vec<String>, s: &str) {
    let t = s.trim();
    if !t.is_empty() {
        out.push(t.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        assert_eq!(
            split_statements("select 1; select ';' ; -- a;b\nselect `x;y` /* ; */; ;"),
            vec!["select 1", "select ';'", "-- a;b\nselect `x;y` /* ; */"]
        );
        assert_eq!(
            split_statements("select 'it''s; \\' ;'"),
            vec!["select 'it''s; \\' ;'"]
        );
        assert_eq!(split_statements("  ;  "), Vec::<String>::new());
        assert_eq!(
            split_statements("select 'unterminated;"),
            vec!["select 'unterminated;"]
        );
    }
}
