//! GNU sparse maps in their four encodings: old GNU (`S` headers with
//! extension blocks), PAX 0.0 (repeated `GNU.sparse.offset`/`numbytes`),
//! PAX 0.1 (`GNU.sparse.map`) and PAX 1.0 (decimal lines at the start of the
//! member's data).

use crate::header::parse_numeric;
use crate::member::{SparseMap, SparseRegion};
use crate::pax::{PaxRecords, parse_decimal};

/// Size of one old-GNU sparse entry (offset and length, 12 bytes each).
const OLD_GNU_ENTRY: usize = 24;

/// Which PAX sparse encoding a member uses, if any.
pub(crate) enum PaxSparse {
    /// 0.0 or 0.1: the map is in the records.
    InRecords(Vec<SparseRegion>),
    /// 1.0: the map is at the start of the data.
    InData,
}

/// What the PAX records say about sparseness: the encoding, the real size
/// and the real name. `Ok(None)` when the member is not a PAX sparse file.
pub(crate) fn from_pax(pax: &PaxRecords) -> Result<Option<(PaxSparse, Option<u64>)>, String> {
    let major = pax.get("GNU.sparse.major");
    let minor = pax.get("GNU.sparse.minor");
    let in_data = match (major, minor) {
        (Some(b"0"), Some(b"0" | b"1")) => false,
        (Some(b"1"), Some(b"0")) => true,
        (Some(_), _) | (_, Some(_)) => return Ok(None),
        (None, None) if has_0x_map(pax) => false,
        (None, None) => return Ok(None),
    };
    let size = pax
        .get("GNU.sparse.size")
        .or_else(|| pax.get("GNU.sparse.realsize"));
    let real_size = match size {
        Some(text) => Some(
            parse_decimal(text)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or("invalid GNU.sparse size")?,
        ),
        None => None,
    };
    let encoding = if in_data {
        PaxSparse::InData
    } else {
        PaxSparse::InRecords(map_0x(pax)?)
    };
    Ok(Some((encoding, real_size)))
}

fn has_0x_map(pax: &PaxRecords) -> bool {
    pax.iter()
        .any(|(k, _)| k == b"GNU.sparse.map" || k == b"GNU.sparse.offset")
}

/// The 0.0 map (ordered offset/numbytes records) or the 0.1 map
/// (`GNU.sparse.map`, comma-separated).
fn map_0x(pax: &PaxRecords) -> Result<Vec<SparseRegion>, String> {
    let mut numbers: Vec<&[u8]> = Vec::new();
    for (key, value) in pax.iter() {
        let expected: &[u8] = if numbers.len().is_multiple_of(2) {
            b"GNU.sparse.offset"
        } else {
            b"GNU.sparse.numbytes"
        };
        if key == b"GNU.sparse.offset" || key == b"GNU.sparse.numbytes" {
            if key != expected {
                return Err("GNU.sparse.offset and numbytes records out of order".into());
            }
            numbers.push(value);
        }
    }
    if let (true, Some(map)) = (numbers.is_empty(), pax.get("GNU.sparse.map")) {
        numbers = map.split(|&b| b == b',').collect();
    }
    let declared = match pax.get("GNU.sparse.numblocks") {
        Some(text) => parse_decimal(text).ok_or("invalid GNU.sparse.numblocks")?,
        None => (numbers.len() / 2) as i64,
    };
    if declared < 0 || numbers.len() as i64 != declared * 2 {
        return Err(format!(
            "GNU.sparse.numblocks is {declared} but the map has {} numbers",
            numbers.len()
        ));
    }
    pairs(numbers.into_iter().map(parse_decimal))
}

fn pairs(mut numbers: impl Iterator<Item = Option<i64>>) -> Result<Vec<SparseRegion>, String> {
    let mut regions = Vec::new();
    while let Some(offset) = numbers.next() {
        let length = numbers.next().flatten();
        match (offset, length) {
            (Some(o), Some(l)) if o >= 0 && l >= 0 => regions.push(SparseRegion {
                offset: o as u64,
                length: l as u64,
            }),
            _ => return Err("sparse map holds an invalid number".into()),
        }
    }
    Ok(regions)
}

/// Reads old-GNU sparse entries from a header (4 slots) or an extension
/// block (21 slots); a slot whose offset starts with NUL ends the list.
pub(crate) fn old_gnu_entries(slots: &[u8], regions: &mut Vec<SparseRegion>) -> Result<(), String> {
    for slot in slots.chunks_exact(OLD_GNU_ENTRY) {
        if slot[0] == 0 {
            break;
        }
        let offset = parse_numeric(&slot[..12]);
        let length = parse_numeric(&slot[12..]);
        regions.extend(pairs([offset, length].into_iter())?);
    }
    Ok(())
}

/// Tries to parse a PAX 1.0 map from the blocks read so far. Returns the
/// regions and the number of bytes (whole blocks) the map occupies, or
/// `None` when another block is needed.
pub(crate) fn parse_1x0(
    data: &[u8],
    max_regions: usize,
) -> Result<Option<(Vec<SparseRegion>, usize)>, String> {
    let mut lines = data
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"));
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    let count = number_line(first)?;
    if count > max_regions as u64 {
        return Err(format!(
            "sparse map has {count} regions, more than the limit of {max_regions}"
        ));
    }
    let mut used = first.len();
    let mut numbers = Vec::with_capacity(count as usize * 2);
    for _ in 0..count * 2 {
        let Some(line) = lines.next() else {
            return Ok(None);
        };
        used += line.len();
        numbers.push(Some(number_line(line)? as i64));
    }
    let blocks = used.div_ceil(crate::header::BLOCK) * crate::header::BLOCK;
    Ok(Some((pairs(numbers.into_iter())?, blocks)))
}

fn number_line(line: &[u8]) -> Result<u64, String> {
    let digits = &line[..line.len() - 1];
    parse_decimal(digits)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| {
            format!(
                "invalid number {:?} in sparse map",
                String::from_utf8_lossy(digits)
            )
        })
}

/// Checks a map the way GNU tar, bsdtar and Go do: regions in order, not
/// overlapping, within the real size; and it must account for exactly the
/// payload bytes the archive stores.
pub(crate) fn validate(
    regions: Vec<SparseRegion>,
    real_size: u64,
    data_len: u64,
) -> Result<SparseMap, String> {
    let mut end_of_previous = 0u64;
    let mut stored = 0u64;
    for region in &regions {
        let end = region
            .offset
            .checked_add(region.length)
            .ok_or("sparse region overflows")?;
        if region.offset < end_of_previous {
            return Err("sparse regions overlap or are out of order".into());
        }
        if end > real_size {
            return Err(format!(
                "sparse region ends at {end}, past the file size {real_size}"
            ));
        }
        end_of_previous = end;
        stored += region.length;
    }
    if stored != data_len {
        return Err(format!(
            "sparse map covers {stored} bytes but the member stores {data_len}"
        ));
    }
    Ok(SparseMap { regions, real_size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_1x0_needs_complete_lines() {
        let mut data = b"2\n0\n10\n4096\n5\n".to_vec();
        data.resize(512, 0);
        let (regions, used) = parse_1x0(&data, 100).expect("valid").expect("complete");
        assert_eq!(used, 512);
        assert_eq!(regions.len(), 2);
        assert_eq!(
            regions[1],
            SparseRegion {
                offset: 4096,
                length: 5
            }
        );
        assert!(parse_1x0(b"2\n0\n10\n40", 100).expect("valid").is_none());
        assert!(parse_1x0(b"2\n0\nx\n", 100).is_err());
        assert!(parse_1x0(b"200\n", 100).is_err());
    }

    #[test]
    fn validation() {
        let r = |offset, length| SparseRegion { offset, length };
        assert!(validate(vec![r(0, 5), r(10, 5)], 20, 10).is_ok());
        assert!(validate(vec![r(10, 5), r(0, 5)], 20, 10).is_err());
        assert!(validate(vec![r(0, 5), r(10, 15)], 20, 20).is_err());
        assert!(validate(vec![r(0, 5)], 20, 6).is_err());
        assert!(validate(vec![], 20, 0).is_ok());
    }
}
