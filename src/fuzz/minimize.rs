//! Test-case reduction for [`super::compare`] failures.
//!
//! Contract: [`minimize`] only ever deletes lines or replaces a piece of a
//! line with something shorter or a small literal, and adopts a candidate
//! only if `lang::compile` (with the test host functions) accepts it in-process and the tiers still
//! disagree (see [`minimize`] for what counts). It relies on the layout of
//! generated programs (see [`super::gen`]): one statement per line, and
//! loop bounds and recursion guards on lines that it never rewrites
//! piecemeal.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{compare, compare_within, Mismatch, Outcome, DEFAULT_TIMEOUT};

/// The timeout of each run while minimizing a failure that was not itself
/// a timeout: generated programs finish in milliseconds, and a candidate
/// that loops is rejected, so there is no need to wait long for it.
const MINIMIZE_RUN_TIMEOUT: Duration = Duration::from_secs(2);

/// How long [`minimize`] keeps trying before it settles for what it has.
const MINIMIZE_TIME_LIMIT: Duration = Duration::from_secs(90);

/// Shrinks a program on which the tiers disagree to a small one on which
/// they still do; gives `program_text` itself if they agree on it.
///
/// Candidates are checked with [`super::host::compile`] in-process before any
/// run. A candidate counts as still failing if the tiers still mismatch,
/// a crash is still a crash, and no timeout or stack overflow appeared
/// that the original did not have: deleting code must not drift towards a
/// program that merely loops or recurses forever. Gives up refining after
/// 90 seconds and returns the smallest failure found.
pub fn minimize(exe: &Path, program_text: &str, tiers: &[&str]) -> String {
    let Err(original) = compare(exe, program_text, tiers) else {
        return program_text.to_string();
    };
    let search = Minimizer {
        exe,
        tiers,
        timeout: if original.has_timeout() {
            DEFAULT_TIMEOUT
        } else {
            MINIMIZE_RUN_TIMEOUT
        },
        original: Symptoms::of(&original),
        deadline: Instant::now() + MINIMIZE_TIME_LIMIT,
    };
    let mut lines: Vec<String> = program_text.lines().map(String::from).collect();
    loop {
        let before = text_len(&lines);
        search.remove_chunks(&mut lines);
        search.remove_blocks(&mut lines);
        search.drop_else_branches(&mut lines);
        search.unwrap_blocks(&mut lines);
        search.simplify_groups(&mut lines);
        search.simplify_atoms(&mut lines);
        if text_len(&lines) >= before || search.out_of_time() {
            break;
        }
    }
    join_lines(&lines)
}

fn text_len(lines: &[String]) -> usize {
    lines.iter().map(|l| l.len() + 1).sum()
}

fn join_lines(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The state of one [`minimize`] search.
struct Minimizer<'a> {
    exe: &'a Path,
    tiers: &'a [&'a str],
    timeout: Duration,
    original: Symptoms,
    deadline: Instant,
}

/// The traits of a mismatch that minimizing must keep or must not add.
struct Symptoms {
    timeout: bool,
    crash: bool,
    stack_overflow: bool,
}

impl Symptoms {
    fn of(m: &Mismatch) -> Symptoms {
        let overflow = |o: &Outcome| o.stderr.starts_with("runtime error: stack overflow");
        Symptoms {
            timeout: m.has_timeout(),
            crash: m.has_crash(),
            stack_overflow: m.outcomes.iter().any(|(_, o)| overflow(o)),
        }
    }

    /// Whether a candidate with `self` still shows the `original` failure:
    /// a crash must stay a crash, and a timeout or stack overflow (which
    /// deleting a loop's or a recursion's bound can cause, and whose exact
    /// point may legitimately differ between tiers) must not appear.
    fn allows(&self, original: &Symptoms) -> bool {
        let kept_crash = self.crash || !original.crash;
        let no_new_timeout = !self.timeout || original.timeout;
        let no_new_overflow = !self.stack_overflow || original.stack_overflow;
        kept_crash && no_new_timeout && no_new_overflow
    }
}

impl Minimizer<'_> {
    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Whether `lines` compile and still show the failure being minimized.
    fn fails(&self, lines: &[String]) -> bool {
        let text = join_lines(lines);
        if super::host::compile(text.as_bytes()).is_err() {
            return false;
        }
        match compare_within(self.exe, &text, self.tiers, self.timeout) {
            Ok(_) => false,
            Err(m) => Symptoms::of(&m).allows(&self.original),
        }
    }

    /// Tries `candidate`; adopts it if it still fails.
    fn attempt(&self, lines: &mut Vec<String>, candidate: Vec<String>) -> bool {
        let adopted = !self.out_of_time() && self.fails(&candidate);
        if adopted {
            *lines = candidate;
        }
        adopted
    }

    /// Delta debugging over lines: deletes runs of lines, halving the run
    /// length down to one.
    fn remove_chunks(&self, lines: &mut Vec<String>) {
        let mut size = lines.len() / 2;
        while size >= 1 && !self.out_of_time() {
            let mut start = 0;
            while start < lines.len() && !self.out_of_time() {
                let end = (start + size).min(lines.len());
                let candidate = [&lines[..start], &lines[end..]].concat();
                if !self.attempt(lines, candidate) {
                    start += size;
                }
            }
            size /= 2;
        }
    }

    /// Deletes whole blocks: an opening line through its closing line.
    fn remove_blocks(&self, lines: &mut Vec<String>) {
        for open in (0..lines.len()).rev() {
            if open >= lines.len() || net_braces(&lines[open]) <= 0 {
                continue;
            }
            if let Some(close) = matching_close(lines, open) {
                let candidate = [&lines[..open], &lines[close + 1..]].concat();
                self.attempt(lines, candidate);
            }
        }
    }

    /// Replaces `} else ... {` and everything up to the end of the `if`
    /// with `}`.
    fn drop_else_branches(&self, lines: &mut Vec<String>) {
        for at in (0..lines.len()).rev() {
            let Some(line) = lines.get(at) else { continue };
            let trimmed = line.trim();
            if !(trimmed.starts_with('}') && trimmed.ends_with('{')) {
                continue;
            }
            if let Some(close) = matching_close(lines, at) {
                let indent = &line[..line.len() - line.trim_start().len()];
                let closer = [format!("{indent}}}")];
                let candidate = [&lines[..at], &closer[..], &lines[close + 1..]].concat();
                self.attempt(lines, candidate);
            }
        }
    }

    /// Keeps a block's body but deletes its opening and closing lines.
    fn unwrap_blocks(&self, lines: &mut Vec<String>) {
        for open in (0..lines.len()).rev() {
            if open >= lines.len() || net_braces(&lines[open]) <= 0 {
                continue;
            }
            if let Some(close) = matching_close(lines, open) {
                let candidate =
                    [&lines[..open], &lines[open + 1..close], &lines[close + 1..]].concat();
                self.attempt(lines, candidate);
            }
        }
    }

    /// Replaces parenthesized subexpressions by one of their operands or by
    /// a small literal.
    fn simplify_groups(&self, lines: &mut Vec<String>) {
        for row in 0..lines.len() {
            let mut from = 0;
            while let Some((open, close)) = next_group(&lines[row], from) {
                if self.out_of_time() {
                    return;
                }
                if !self.simplify_group(lines, row, open, close) {
                    from = open + 1;
                }
            }
        }
    }

    /// Replaces single names and numbers by small literals, except on
    /// `while` and `fn` lines, whose counters and depth guards keep the
    /// program finite.
    fn simplify_atoms(&self, lines: &mut Vec<String>) {
        for row in 0..lines.len() {
            let header = ["while ", "fn "]
                .iter()
                .any(|h| lines[row].trim_start().starts_with(h));
            if header {
                continue;
            }
            let mut skip = 0;
            while let Some(&(start, end)) = atoms(&lines[row]).get(skip) {
                if self.out_of_time() {
                    return;
                }
                let line = lines[row].clone();
                // A literal stays as it is: replacing it by another could
                // go back and forth forever.
                let adopted = !ATOM_LITERALS.contains(&&line[start..end])
                    && ATOM_LITERALS.iter().any(|literal| {
                        let mut candidate = lines.clone();
                        candidate[row] = format!("{}{literal}{}", &line[..start], &line[end..]);
                        self.attempt(lines, candidate)
                    });
                if !adopted {
                    skip += 1;
                }
            }
        }
    }

    fn simplify_group(
        &self,
        lines: &mut Vec<String>,
        row: usize,
        open: usize,
        close: usize,
    ) -> bool {
        let line = lines[row].clone();
        let inner = &line[open + 1..close];
        let mut replacements = group_operands(inner);
        replacements.extend(["0", "1", "0.0", "true"].map(String::from));
        for replacement in replacements {
            let mut candidate = lines.clone();
            candidate[row] = format!("{}{replacement}{}", &line[..open], &line[close + 1..]);
            if self.attempt(lines, candidate) {
                return true;
            }
        }
        false
    }
}

/// What the atom pass tries in place of a name or number.
const ATOM_LITERALS: &[&str] = &["0", "1", "0.0", "true"];

/// Words the atom pass leaves alone.
const KEYWORDS: &[&str] = &[
    "fn", "let", "const", "if", "else", "while", "for", "in", "return", "break", "continue",
    "true", "false", "int", "float", "bool", "spawn", "depth",
];

/// The byte ranges of the names and numbers on a line that the atom pass
/// may replace: not keywords, not callees, not a recursive call's
/// `depth - 1` (replacing its `1` would recurse forever), nothing in a
/// string or comment.
fn atoms(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'/' => break,
            b if is_word(b) => {
                let start = i;
                while i < bytes.len() && is_word(bytes[i]) {
                    i += 1;
                }
                let word = &line[start..i];
                let callee = bytes.get(i) == Some(&b'(');
                let depth_step = word == "1" && line[..start].ends_with("depth - ");
                if !(KEYWORDS.contains(&word) || callee || depth_step) {
                    found.push((start, i));
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// `{` minus `}` on a line, outside string literals and comments.
fn net_braces(line: &str) -> i32 {
    let mut net = 0;
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') | (false, '"') => in_string = !in_string,
            (false, '/') if chars.peek() == Some(&'/') => break,
            (false, '{') => net += 1,
            (false, '}') => net -= 1,
            _ => {}
        }
    }
    net
}

/// The line that closes the block opened on line `open` (the first line
/// after which the braces opened there are balanced).
fn matching_close(lines: &[String], open: usize) -> Option<usize> {
    let mut depth = 1;
    for (i, line) in lines.iter().enumerate().skip(open + 1) {
        depth += net_braces(line);
        if depth <= 0 {
            return Some(i);
        }
    }
    None
}

/// The next parenthesized group at or after byte `from` that is not an
/// argument list (a `(` right after a name), as the byte positions of its
/// parentheses.
fn next_group(line: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut in_string = false;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return None,
            b'(' if !in_string && i >= from => {
                let after_name =
                    i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
                if !after_name {
                    if let Some(close) = matching_paren(bytes, i) {
                        return Some((i, close));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn matching_paren(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Binary operators as the generator writes them, longest first so that
/// `<<` is not read as `<`.
const OPERATORS: &[&str] = &[
    "||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "<", ">", "|", "^", "&", "+", "-", "*", "/",
    "%",
];

/// The operands of `A op B` or of a unary `-A`, `!A`, `~A` (the text
/// inside a group's parentheses). Masks like `E & 7` and `E % 4` keep
/// their operand: they bound loop trip counts and array lengths.
fn group_operands(inner: &str) -> Vec<String> {
    for prefix in ["-", "!", "~"] {
        if let Some(rest) = inner.strip_prefix(prefix) {
            return vec![rest.to_string()];
        }
    }
    let Some((at, op)) = top_level_operator(inner) else {
        return Vec::new();
    };
    let lhs = &inner[..at];
    let rhs = &inner[at + op.len() + 2..];
    let is_mask = matches!(op, "&" | "%") && rhs.trim().parse::<i64>().is_ok();
    if is_mask {
        return Vec::new();
    }
    vec![lhs.to_string(), rhs.to_string()]
}

/// The first ` op ` outside nested brackets, as (byte position of the
/// space before it, operator).
fn top_level_operator(inner: &str) -> Option<(usize, &'static str)> {
    let bytes = inner.as_bytes();
    let mut depth = 0i32;
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b' ' if depth == 0 => {
                let rest = &inner[i + 1..];
                let op = OPERATORS
                    .iter()
                    .find(|op| rest.starts_with(*op) && rest[op.len()..].starts_with(' '));
                if let Some(op) = op {
                    return Some((i, op));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_are_counted_outside_strings_and_comments() {
        assert_eq!(net_braces("while w1 < 3 { w1 = w1 + 1;"), 1);
        assert_eq!(net_braces("} else {"), 0);
        assert_eq!(net_braces("print(\"{\"); // }"), 0);
        assert_eq!(net_braces("if c { break; }"), 0);
    }

    #[test]
    fn blocks_match_across_else() {
        let lines: Vec<String> = ["if a {", "x = 1;", "} else {", "x = 2;", "}", "y = 3;"]
            .map(String::from)
            .to_vec();
        assert_eq!(matching_close(&lines, 0), Some(4));
        assert_eq!(matching_close(&lines, 2), Some(4));
    }

    #[test]
    fn groups_skip_argument_lists() {
        let line = "let v = abs((x + 1)) * (y - 2);";
        let (open, close) = next_group(line, 0).unwrap();
        assert_eq!(&line[open..=close], "(x + 1)");
        let (open, close) = next_group(line, open + 1).unwrap();
        assert_eq!(&line[open..=close], "(y - 2)");
    }

    #[test]
    fn operands_split_at_the_top_level_only() {
        assert_eq!(
            group_operands("(a << 2) + f(b, (c - 1))"),
            ["(a << 2)", "f(b, (c - 1))"]
        );
        assert_eq!(group_operands("-x"), ["x"]);
        assert_eq!(
            group_operands("a[(i % len(a))] < 2.0"),
            ["a[(i % len(a))]", "2.0"]
        );
        assert!(group_operands("v & 7").is_empty());
        assert!(group_operands("v % 4").is_empty());
    }
}
