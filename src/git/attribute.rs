/*!
Line attribution for one file: which lines of a new version came from accepted AI edits.

The committed version is the starting point. The edits recorded since then are replayed on
it hunk by hunk, each line remembering which edit put it there; the content hashes in the
records confirm the replay stays in step with what was on disk. The result is then compared,
line by line, with the version being committed: lines that survived unchanged keep their
edit, lines a human added or changed afterwards have none, and AI lines missing from the
commit are the ones a human changed. No similarity guessing: a line is AI-written only if a
recorded edit added exactly that text at that place.
*/

use std::collections::HashMap;

use imara_diff::{Algorithm, Diff};
use serde::Serialize;

use super::edits::{EditRecord, HunkLine, LineKey, line_key};

/// How closely the replay followed the recorded content hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fidelity {
    /// Every edit started from the content the replay had, and the result is the committed
    /// content byte for byte.
    Exact,
    /// Every edit replayed from its recorded content; later human changes (or partial
    /// staging) were resolved by a line diff.
    Reconstructed,
    /// Some edit did not start from the content the replay had (a human edited between AI
    /// edits, or no edit started from the committed version): hunks were placed by their
    /// context lines.
    Approximate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub key: LineKey,
    text: Option<Box<[u8]>>,
    crlf: bool,
    newline: bool,
    /// Index of the edit (in the slice given to [`replay`]) that added this line.
    pub origin: Option<usize>,
}

/// Splits content into lines; a final line without a line ending is kept.
pub fn split_lines(content: &[u8]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (line, newline, next) = match memchr::memchr(b'\n', rest) {
            Some(at) => (&rest[..at], true, &rest[at + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        let crlf = newline && line.ends_with(b"\r");
        let text = if crlf { &line[..line.len() - 1] } else { line };
        lines.push(Line {
            key: line_key(text),
            text: Some(text.into()),
            crlf,
            newline,
            origin: None,
        });
        rest = next;
    }
    lines
}

/// The BLAKE3 hex of content as stored and with CRLF turned into LF: Claude Code reports the
/// original of a CRLF file with LF line endings.
pub fn content_hashes(content: &[u8]) -> Vec<String> {
    let raw = blake3::hash(content).to_hex().to_string();
    if !content.contains(&b'\r') {
        return vec![raw];
    }
    let mut normalized = Vec::with_capacity(content.len());
    let mut i = 0;
    while i < content.len() {
        if content[i] == b'\r' && content.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        normalized.push(content[i]);
        i += 1;
    }
    vec![raw, blake3::hash(&normalized).to_hex().to_string()]
}

/// The hashes of the replayed content, or nothing when a digested hunk left a line's text
/// unknown.
fn state_hashes(lines: &[Line]) -> Vec<String> {
    let mut raw = Vec::new();
    for line in lines {
        let Some(text) = &line.text else {
            return Vec::new();
        };
        raw.extend_from_slice(text);
        if line.crlf {
            raw.extend_from_slice(b"\r\n");
        } else if line.newline {
            raw.push(b'\n');
        }
    }
    content_hashes(&raw)
}

/// Git's test for binary content: a NUL byte in the first 8000 bytes.
pub fn is_binary(content: &[u8]) -> bool {
    memchr::memchr(0, &content[..content.len().min(8000)]).is_some()
}

/// Replays `edits` (oldest first) on `base`. `synced` says the first edit started from `base`.
/// Returns the lines with their origins and how faithful the replay was.
pub fn replay(base: Vec<Line>, edits: &[&EditRecord], synced: bool) -> (Vec<Line>, Fidelity) {
    let mut state = base;
    let mut faithful = synced;
    for (index, edit) in edits.iter().enumerate() {
        let in_step = match &edit.before {
            None => edit.create || state.is_empty(),
            Some(before) => state_hashes(&state).contains(before),
        };
        if edit.create && !in_step {
            // A Write that (re)created the file replaces whatever the replay had.
            state.clear();
        }
        faithful &= in_step || edit.create;
        let crlf = state.iter().filter(|l| l.crlf).count() * 2 > state.len();
        // Bottom to top: a hunk's stated position is then still valid when it is applied.
        let mut order: Vec<&super::edits::EditHunk> = edit.hunks.iter().collect();
        order.sort_by_key(|h| std::cmp::Reverse(h.old_start));
        for hunk in order {
            faithful &= apply_hunk(&mut state, hunk, index, crlf);
        }
    }
    (
        state,
        if faithful {
            Fidelity::Reconstructed
        } else {
            Fidelity::Approximate
        },
    )
}

/// Applies one hunk where its old side (context and removed lines) matches, nearest to its
/// stated position. Like `patch`, it retries with up to three context lines dropped from each
/// end (a human may have changed a line next to the AI's). Returns whether it landed exactly
/// where stated with all its context.
fn apply_hunk(
    state: &mut Vec<Line>,
    hunk: &super::edits::EditHunk,
    origin: usize,
    crlf: bool,
) -> bool {
    let lines = &hunk.lines;
    let is_context = |l: &HunkLine| matches!(l, HunkLine::Context(_));
    let leading = lines.iter().take_while(|l| is_context(l)).count();
    let trailing = lines
        .iter()
        .rev()
        .take_while(|l| is_context(l) || matches!(l, HunkLine::NoNewline))
        .count();
    let expected = if hunk.old_lines == 0 {
        hunk.old_start
    } else {
        hunk.old_start.saturating_sub(1)
    };
    for fuzz in 0..=3usize {
        let (drop_front, drop_back) = (fuzz.min(leading), fuzz.min(trailing));
        if fuzz > 0 && drop_front == 0 && drop_back == 0 {
            break;
        }
        if drop_front + drop_back >= lines.len() {
            break;
        }
        let part = &lines[drop_front..lines.len() - drop_back];
        let old_side: Vec<LineKey> = part
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(k) | HunkLine::Removed(k) => Some(*k),
                _ => None,
            })
            .collect();
        let want = (expected + drop_front).min(state.len());
        let Some(at) = find_block(state, &old_side, want) else {
            continue;
        };
        splice_hunk(state, part, at, old_side.len(), origin, crlf);
        return fuzz == 0 && at == want;
    }
    false
}

fn splice_hunk(
    state: &mut Vec<Line>,
    lines: &[HunkLine],
    at: usize,
    old_len: usize,
    origin: usize,
    crlf: bool,
) {
    let mut replacement = Vec::with_capacity(lines.len());
    let mut old = at;
    for (i, line) in lines.iter().enumerate() {
        match line {
            HunkLine::Context(_) => {
                replacement.push(state[old].clone());
                old += 1;
            }
            HunkLine::Removed(_) => old += 1,
            HunkLine::Added(key, text) => replacement.push(Line {
                key: *key,
                text: text.clone(),
                crlf,
                newline: true,
                origin: Some(origin),
            }),
            // The marker after a removed line speaks of the old file only.
            HunkLine::NoNewline => {
                let new_side = i > 0 && !matches!(lines[i - 1], HunkLine::Removed(_));
                if let Some(last) = replacement.last_mut().filter(|_| new_side) {
                    last.newline = false;
                    last.crlf = false;
                }
            }
        }
    }
    state.splice(at..at + old_len, replacement);
}

/// Where `block` occurs in `state`, searching outwards from `expected`.
fn find_block(state: &[Line], block: &[LineKey], expected: usize) -> Option<usize> {
    if block.is_empty() {
        return Some(expected);
    }
    if block.len() > state.len() {
        return None;
    }
    let last = state.len() - block.len();
    let matches = |at: usize| {
        state[at..at + block.len()]
            .iter()
            .zip(block)
            .all(|(l, k)| l.key == *k)
    };
    let expected = expected.min(last);
    for distance in 0..=last {
        let below = expected + distance;
        if below <= last && matches(below) {
            return Some(below);
        }
        if distance > 0 && distance <= expected && matches(expected - distance) {
            return Some(expected - distance);
        }
        if below > last && distance > expected {
            break;
        }
    }
    None
}

/// For each line of `after`, whether it is not matched to a line of `before`; and for each
/// line of `before`, whether it is gone.
pub fn diff_lines(before: &[LineKey], after: &[LineKey]) -> (Vec<bool>, Vec<bool>) {
    let mut tokens: HashMap<LineKey, u32> = HashMap::with_capacity(before.len() + after.len());
    let mut intern = |k: &LineKey| {
        let next = tokens.len() as u32;
        *tokens.entry(*k).or_insert(next)
    };
    let before_tokens: Vec<imara_diff::Token> = before.iter().map(|k| intern(k).into()).collect();
    let after_tokens: Vec<imara_diff::Token> = after.iter().map(|k| intern(k).into()).collect();
    let mut diff = Diff::default();
    diff.compute_with(
        Algorithm::Histogram,
        &before_tokens,
        &after_tokens,
        tokens.len() as u32,
    );
    let added = (0..after.len() as u32).map(|i| diff.is_added(i)).collect();
    let removed = (0..before.len() as u32)
        .map(|i| diff.is_removed(i))
        .collect();
    (added, removed)
}

/// The attribution of one file's new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLines {
    /// Per line of the new version: added by this change (not in the base, nor in a merged
    /// parent's version).
    pub added: Vec<bool>,
    /// Per line of the new version: the edit (index into the given slice) that wrote it.
    pub origin: Vec<Option<usize>>,
    /// Lines of the new version (for content hashes).
    pub keys: Vec<LineKey>,
    pub removed: usize,
    /// AI-written lines the replay produced that are not in the new version.
    pub human_changed: usize,
    pub fidelity: Fidelity,
}

impl FileLines {
    pub fn added_count(&self) -> usize {
        self.added.iter().filter(|a| **a).count()
    }

    pub fn ai_count(&self) -> usize {
        self.added
            .iter()
            .zip(&self.origin)
            .filter(|(added, origin)| **added && origin.is_some())
            .count()
    }
}

/// Attributes `target` given its `base` (`None`: a new file), the version in another merged
/// parent if any, and the edits to replay.
pub fn attribute(
    base: Option<&[u8]>,
    merged_parent: Option<Option<&[u8]>>,
    target: &[u8],
    edits: &[&EditRecord],
    synced: bool,
) -> FileLines {
    let base_lines = base.map(split_lines).unwrap_or_default();
    let base_keys: Vec<LineKey> = base_lines.iter().map(|l| l.key).collect();
    let target_lines = split_lines(target);
    let keys: Vec<LineKey> = target_lines.iter().map(|l| l.key).collect();
    let (mut added, removed_base) = diff_lines(&base_keys, &keys);
    if let Some(Some(other)) = merged_parent {
        let other_keys: Vec<LineKey> = split_lines(other).iter().map(|l| l.key).collect();
        let (added_vs_other, _) = diff_lines(&other_keys, &keys);
        for (a, o) in added.iter_mut().zip(added_vs_other) {
            *a &= o;
        }
    }
    let removed = removed_base.iter().filter(|r| **r).count();
    if edits.is_empty() {
        return FileLines {
            origin: vec![None; keys.len()],
            added,
            keys,
            removed,
            human_changed: 0,
            fidelity: Fidelity::Exact,
        };
    }
    let (replayed, mut fidelity) = replay(base_lines, edits, synced);
    if fidelity == Fidelity::Reconstructed
        && state_hashes(&replayed)
            .iter()
            .any(|h| content_hashes(target).contains(h))
    {
        fidelity = Fidelity::Exact;
    }
    let replayed_keys: Vec<LineKey> = replayed.iter().map(|l| l.key).collect();
    let (new_in_target, gone_from_replay) = diff_lines(&replayed_keys, &keys);
    let mut origin = vec![None; keys.len()];
    let mut r = 0;
    for (t, is_new) in new_in_target.iter().enumerate() {
        if *is_new {
            continue;
        }
        while r < replayed.len() && gone_from_replay[r] {
            r += 1;
        }
        if let Some(line) = replayed.get(r) {
            origin[t] = line.origin;
        }
        r += 1;
    }
    let human_changed = replayed
        .iter()
        .zip(&gone_from_replay)
        .filter(|(line, gone)| **gone && line.origin.is_some())
        .count();
    FileLines {
        added,
        origin,
        keys,
        removed,
        human_changed,
        fidelity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::edits::EditHunk;

    fn edit(create: bool, before: Option<&[u8]>, hunks: Vec<EditHunk>) -> EditRecord {
        EditRecord {
            seq: 1,
            hash: [0; 32],
            ts_ns: 0,
            path: "f".into(),
            session_id: None,
            prompt_id: None,
            tool: None,
            tool_use_id: None,
            agent_type: None,
            model: None,
            model_source: None,
            before: before.map(|b| blake3::hash(b).to_hex().to_string()),
            after: None,
            create,
            hunks,
        }
    }

    fn hunk(old_start: usize, old_lines: usize, lines: &[&str]) -> EditHunk {
        EditHunk {
            old_start,
            old_lines,
            lines: lines
                .iter()
                .map(|l| {
                    let (p, t) = l.split_at(1);
                    let key = line_key(t.as_bytes());
                    match p {
                        " " => HunkLine::Context(key),
                        "-" => HunkLine::Removed(key),
                        "+" => HunkLine::Added(key, Some(t.as_bytes().into())),
                        _ => HunkLine::NoNewline,
                    }
                })
                .collect(),
        }
    }

    fn ai_lines(lines: &FileLines) -> Vec<usize> {
        (0..lines.keys.len())
            .filter(|i| lines.added[*i] && lines.origin[*i].is_some())
            .map(|i| i + 1)
            .collect()
    }

    #[test]
    fn an_edit_replayed_on_the_committed_file_is_exact() {
        let base = b"a\nb\nc\n";
        let e = edit(
            false,
            Some(base),
            vec![hunk(1, 3, &[" a", "-b", "+B1", "+B2", " c"])],
        );
        let result = attribute(Some(base), None, b"a\nB1\nB2\nc\n", &[&e], true);
        assert_eq!(ai_lines(&result), [2, 3]);
        assert_eq!((result.added_count(), result.removed), (2, 1));
        assert_eq!(result.fidelity, Fidelity::Exact);
    }

    #[test]
    fn a_human_change_after_the_ai_takes_the_line_back() {
        let base = b"a\nb\nc\n";
        let e = edit(
            false,
            Some(base),
            vec![hunk(1, 3, &[" a", "-b", "+B1", "+B2", " c"])],
        );
        let result = attribute(Some(base), None, b"a\nB1\nmine\nc\nextra\n", &[&e], true);
        assert_eq!(ai_lines(&result), [2]);
        assert_eq!(result.added_count(), 3);
        assert_eq!(result.human_changed, 1);
        assert_eq!(result.fidelity, Fidelity::Reconstructed);
    }

    #[test]
    fn crlf_files_and_created_files() {
        let base = b"one\r\ntwo\r\n";
        // Claude Code reports the original of a CRLF file with LF endings.
        let e = edit(
            false,
            Some(b"one\ntwo\n"),
            vec![hunk(1, 2, &[" one", "-two", "+TWO"])],
        );
        let result = attribute(Some(base), None, b"one\r\nTWO\r\n", &[&e], true);
        assert_eq!(ai_lines(&result), [2]);
        assert_eq!(result.fidelity, Fidelity::Exact);

        let created = edit(true, None, vec![hunk(0, 0, &["+x", "+y"])]);
        let result = attribute(None, None, b"x\ny\nz\n", &[&created], true);
        assert_eq!(ai_lines(&result), [1, 2]);
        assert_eq!(result.added_count(), 3);
    }

    #[test]
    fn a_hunk_moved_by_a_human_insertion_is_placed_by_its_context() {
        let base = b"a\nb\nc\nd\n";
        let first = edit(false, Some(base), vec![hunk(3, 2, &[" c", "-d", "+D"])]);
        // A human inserted two lines at the top before the AI's second edit.
        let second = edit(
            false,
            Some(b"h1\nh2\na\nb\nc\nD\n"),
            vec![hunk(1, 1, &["-a", "+A"])],
        );
        let result = attribute(
            Some(base),
            None,
            b"h1\nh2\nA\nb\nc\nD\n",
            &[&first, &second],
            true,
        );
        assert_eq!(ai_lines(&result), [3, 6]);
        assert_eq!(result.fidelity, Fidelity::Approximate);
    }

    #[test]
    fn lines_from_a_merged_parent_are_not_added_by_the_merge() {
        let ours = b"a\nb\n";
        let theirs = b"a\nb\nt\n";
        let result = attribute(
            Some(ours),
            Some(Some(theirs)),
            b"a\nb\nt\nresolved\n",
            &[],
            true,
        );
        assert_eq!(result.added, [false, false, false, true]);
    }

    #[test]
    fn a_missing_final_newline_is_kept() {
        let base = b"alpha\nbeta";
        let e = edit(
            false,
            Some(base),
            vec![hunk(
                1,
                2,
                &[" alpha", "-beta", "\\", "+beta", "+gamma", "\\"],
            )],
        );
        let result = attribute(Some(base), None, b"alpha\nbeta\ngamma", &[&e], true);
        // Lines compare without their line ending: only `gamma` is new text.
        assert_eq!(ai_lines(&result), [3]);
        assert_eq!(result.fidelity, Fidelity::Exact);
    }
}
