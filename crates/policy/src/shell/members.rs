//! The member lists of tar and zip archives, read without extracting anything, so that an
//! extraction can be judged by where each member lands (`tar -xf x.tar` whose member is
//! `.github/workflows/ci.yml`, or `../../.ssh/authorized_keys`).
//!
//! Only what is needed is parsed: names, types and link targets. A gzip-compressed tar is
//! inflated first, to a bounded size. Another compression, an unknown format, a truncated or
//! inconsistent archive or one with more members than the limit gives `None`, and the caller
//! judges the extraction directory instead.

/// More members than this are not listed one by one.
pub const MAX_MEMBERS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    File,
    Dir,
    /// A symbolic link to the given target, as written in the archive.
    Symlink(String),
    /// A hard link to another member.
    Hardlink(String),
    /// A symbolic link whose target is stored compressed (zip): unknown.
    UnknownLink,
    /// A device, FIFO or anything else tar can create.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub kind: MemberKind,
}

/// A gzip stream is inflated to at most this many bytes (a decompression bomb stops there).
pub const MAX_INFLATED: usize = 64 * 1024 * 1024;

/// The members of a tar or zip archive held in `bytes` (a tar may be gzip-compressed).
pub fn list(bytes: &[u8]) -> Option<Vec<Member>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let inflated = gunzip(bytes)?;
        return (!inflated.starts_with(&[0x1f, 0x8b]))
            .then(|| list(&inflated))
            .flatten();
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return zip(bytes);
    }
    if bytes.len() >= 512 && bytes.get(257..262) == Some(b"ustar".as_slice()) {
        return tar(bytes);
    }
    // An empty tar is two zero blocks.
    if bytes.len() >= 1024 && bytes[..1024].iter().all(|b| *b == 0) {
        return Some(Vec::new());
    }
    None
}

/// The content of a gzip member (RFC 1952): the header's optional fields skipped, the deflate
/// stream inflated up to [`MAX_INFLATED`].
fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if bytes.get(2) != Some(&8) {
        return None;
    }
    let flags = *bytes.get(3)?;
    let mut at = 10usize;
    if flags & FEXTRA != 0 {
        at += 2 + u16_at(bytes, at)?;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += bytes.get(at..)?.iter().position(|b| *b == 0)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    miniz_oxide::inflate::decompress_to_vec_with_limit(bytes.get(at..)?, MAX_INFLATED).ok()
}

fn cstr(field: &[u8]) -> Option<String> {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec()).ok()
}

fn octal(field: &[u8]) -> Option<u64> {
    // Base-256 (high bit set) sizes are for files over 8 GiB: not listed.
    let text = cstr(field)?;
    let text = text.trim_matches([' ', '\0']);
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

fn tar(bytes: &[u8]) -> Option<Vec<Member>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut long_name: Option<String> = None;
    let mut long_link: Option<String> = None;
    while at + 512 <= bytes.len() {
        let header = &bytes[at..at + 512];
        if header.iter().all(|b| *b == 0) {
            return Some(out);
        }
        let size = usize::try_from(octal(&header[124..136])?).ok()?;
        let data_start = at + 512;
        let data_end = data_start.checked_add(size)?;
        let next = data_start.checked_add(size.div_ceil(512) * 512)?;
        let typeflag = header[156];
        let data = bytes.get(data_start..data_end);
        match typeflag {
            b'L' => {
                long_name = Some(cstr(data?)?);
                at = next;
                continue;
            }
            b'K' => {
                long_link = Some(cstr(data?)?);
                at = next;
                continue;
            }
            b'x' => {
                for (key, value) in pax_records(data?)? {
                    match key.as_str() {
                        "path" => long_name = Some(value),
                        "linkpath" => long_link = Some(value),
                        _ => {}
                    }
                }
                at = next;
                continue;
            }
            b'g' => {
                at = next;
                continue;
            }
            _ => {}
        }
        let name = match long_name.take() {
            Some(n) => n,
            None => {
                let base = cstr(&header[0..100])?;
                let prefix = cstr(&header[345..500]).unwrap_or_default();
                if prefix.is_empty() {
                    base
                } else {
                    format!("{prefix}/{base}")
                }
            }
        };
        let link = match long_link.take() {
            Some(l) => l,
            None => cstr(&header[157..257])?,
        };
        let kind = match typeflag {
            b'0' | 0 | b'7' => MemberKind::File,
            b'5' => MemberKind::Dir,
            b'2' => MemberKind::Symlink(link),
            b'1' => MemberKind::Hardlink(link),
            _ => MemberKind::Other,
        };
        out.push(Member { name, kind });
        if out.len() > MAX_MEMBERS {
            return None;
        }
        at = next;
    }
    // No end-of-archive blocks: truncated, but every header read was whole.
    Some(out)
}

/// `LEN key=value\n` records of a pax extended header.
fn pax_records(data: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        let record = rest.get(space + 1..len)?;
        let text = std::str::from_utf8(record).ok()?.trim_end_matches('\n');
        let (key, value) = text.split_once('=')?;
        out.push((key.to_owned(), value.to_owned()));
        rest = &rest[len..];
    }
    Some(out)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 2)?;
    Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A zip's central directory: the names as the extractor will use them.
fn zip(bytes: &[u8]) -> Option<Vec<Member>> {
    // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
    let search_from = bytes.len().saturating_sub(65_557);
    let eocd = (search_from..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes.get(i..i + 4) == Some(b"PK\x05\x06".as_slice()))?;
    let count = u16_at(bytes, eocd + 10)?;
    let offset = usize::try_from(u32_at(bytes, eocd + 16)?).ok()?;
    if count == 0xFFFF || offset == 0xFFFF_FFFF_usize || count > MAX_MEMBERS {
        // Zip64: not listed.
        return None;
    }
    let mut out = Vec::with_capacity(count);
    let mut at = offset;
    for _ in 0..count {
        if bytes.get(at..at + 4) != Some(b"PK\x01\x02".as_slice()) {
            return None;
        }
        let method = u16_at(bytes, at + 10)?;
        let compressed = usize::try_from(u32_at(bytes, at + 20)?).ok()?;
        let name_len = u16_at(bytes, at + 28)?;
        let extra_len = u16_at(bytes, at + 30)?;
        let comment_len = u16_at(bytes, at + 32)?;
        let external = u32_at(bytes, at + 38)?;
        let local = usize::try_from(u32_at(bytes, at + 42)?).ok()?;
        let name = String::from_utf8(bytes.get(at + 46..at + 46 + name_len)?.to_vec()).ok()?;
        let unix_mode = external >> 16;
        let kind = if unix_mode & 0o170000 == 0o120000 {
            // The link target is the member's data: readable when stored uncompressed.
            let target = (method == 0)
                .then(|| {
                    let l_name = u16_at(bytes, local + 26)?;
                    let l_extra = u16_at(bytes, local + 28)?;
                    let start = local + 30 + l_name + l_extra;
                    String::from_utf8(bytes.get(start..start + compressed)?.to_vec()).ok()
                })
                .flatten();
            target.map_or(MemberKind::UnknownLink, MemberKind::Symlink)
        } else if name.ends_with('/') {
            MemberKind::Dir
        } else {
            MemberKind::File
        };
        out.push(Member { name, kind });
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header block for `name` of type `flag`, with `size` bytes of data after it.
    pub(crate) fn tar_header(name: &str, flag: u8, link: &str, size: usize) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let size_text = format!("{size:011o}");
        h[124..135].copy_from_slice(size_text.as_bytes());
        h[156] = flag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h
    }

    #[test]
    fn lists_tar_members_with_links_and_long_names() {
        let mut t = tar_header("a.txt", b'0', "", 3);
        t.extend(b"hi\n");
        t.resize(1024, 0);
        t.extend(tar_header("ln", b'2', "../.env", 0));
        let long = "d/".repeat(80) + "x";
        t.extend(tar_header("././@LongLink", b'L', "", long.len()));
        let mut data = long.clone().into_bytes();
        data.resize(data.len().div_ceil(512) * 512, 0);
        t.extend(data);
        t.extend(tar_header("short", b'0', "", 0));
        t.extend(vec![0u8; 1024]);
        let members = list(&t).expect("a tar");
        assert_eq!(members.len(), 3);
        assert_eq!(members[0].name, "a.txt");
        assert_eq!(members[1].kind, MemberKind::Symlink("../.env".into()));
        assert_eq!(members[2].name, long);
    }

    #[test]
    fn lists_a_gzip_compressed_tar() {
        let mut t = tar_header(".github/workflows/x.yml", b'0', "", 0);
        t.extend(vec![0u8; 1024]);
        let mut gz = vec![0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3];
        gz.extend(b"x.tar\0");
        gz.extend(miniz_oxide::deflate::compress_to_vec(&t, 6));
        gz.extend([0u8; 8]);
        let members = list(&gz).expect("a tgz");
        assert_eq!(members[0].name, ".github/workflows/x.yml");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(list(b"\x1f\x8b\x08\x00 gzip"), None);
        assert_eq!(list(b""), None);
        let mut t = tar_header("a", b'0', "", 0);
        t[124..135].copy_from_slice(b"zzzzzzzzzzz");
        assert_eq!(list(&t), None);
    }

    #[test]
    fn lists_zip_central_directory() {
        // One stored member ".env" (no data) and its central directory entry.
        let name = b".github/workflows/x.yml";
        let mut z = Vec::new();
        z.extend(b"PK\x03\x04");
        z.extend([0u8; 22]);
        z.extend((name.len() as u16).to_le_bytes());
        z.extend(0u16.to_le_bytes());
        z.extend(name);
        let cd = z.len();
        z.extend(b"PK\x01\x02");
        z.extend([0u8; 24]);
        z.extend((name.len() as u16).to_le_bytes());
        z.extend([0u8; 16]);
        z.extend(name);
        let cd_len = z.len() - cd;
        z.extend(b"PK\x05\x06");
        z.extend([0u8; 4]);
        z.extend(1u16.to_le_bytes());
        z.extend(1u16.to_le_bytes());
        z.extend((cd_len as u32).to_le_bytes());
        z.extend((cd as u32).to_le_bytes());
        z.extend(0u16.to_le_bytes());
        let members = list(&z).expect("a zip");
        assert_eq!(
            members,
            vec![Member {
                name: ".github/workflows/x.yml".into(),
                kind: MemberKind::File
            }]
        );
    }
}
