//! A sans-IO, push-style tar parser that accounts for every byte.
//!
//! The caller hands [`Parser::step`] the input it has not consumed yet; each
//! call reports what the leading bytes are: archive structure ([`Event::Raw`]:
//! header blocks, PAX and GNU extension data, sparse maps, padding,
//! end-of-archive blocks and anything after them) or payload of the current
//! member ([`Event::Data`]). Member boundaries are reported as events that
//! consume nothing. Because raw and payload bytes are always reported in
//! order and never both at once, a caller can copy the raw bytes aside and
//! reproduce the archive exactly, which is what tar-split needs.
//!
//! The parser reads what Go's `archive/tar` reads (the reader behind Docker's
//! and containers/storage's layer handling): v7, ustar, PAX, GNU and STAR
//! headers; GNU long names and links; repeated extension headers (last
//! wins); all GNU sparse encodings; header-only types whose size field is
//! not zero; archives without end blocks, with one zero block, or with
//! trailing bytes. Unlike Go it treats a lone zero block followed by other
//! bytes as the end of the archive, as GNU tar does.

use crate::error::{Error, Result, display_name};
use crate::header::{BLOCK, Format, HeaderBlock, ZERO_BLOCK, field};
use crate::member::{Member, Time, kind};
use crate::pax::{PaxRecords, parse_decimal, parse_time};
use crate::sparse::{self, PaxSparse};

/// What the leading bytes of the input are, or what just happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The input is empty and the parser needs more.
    NeedInput,
    /// The first `n` input bytes are archive structure, not payload.
    Raw(usize),
    /// The first `n` input bytes are payload of the current member.
    Data(usize),
    /// The current member's headers are complete ([`Parser::member`]); its
    /// payload follows. Consumes no input.
    Member,
    /// The current member's payload is complete. Consumes no input.
    MemberEnd,
    /// The end-of-archive marker was read; all further bytes are trailer.
    /// Consumes no input.
    End,
}

/// Bounds on what one member's headers may make the parser hold in memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest PAX header, GNU long name or PAX 1.0 sparse map, in bytes.
    pub max_extension: u64,
    /// Largest number of regions in a sparse map.
    pub max_sparse_regions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_extension: 1 << 20,
            max_sparse_regions: 1 << 18,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExtKind {
    Pax,
    GlobalPax,
    LongName,
    LongLink,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a header block (or an end-of-archive block).
    Header,
    /// Reading the data of an extension header, then its padding.
    Extension {
        kind: ExtKind,
        remaining: u64,
        padding: u64,
    },
    /// Reading old-GNU sparse extension blocks.
    SparseBlock,
    /// Reading the PAX 1.0 sparse map from the start of the payload area;
    /// `area` is what is left of the payload area.
    SparseMap { area: u64 },
    /// Headers complete; report the member.
    Announce,
    /// Reading payload.
    Data { remaining: u64 },
    /// Payload complete; report it.
    DataDone { padding: u64 },
    /// Reading the padding after a payload.
    Padding { remaining: u64 },
    /// First zero block read; report the end.
    Ended,
    /// After the end of the archive.
    Trailer,
}

/// Extension headers seen since the last member.
#[derive(Default)]
struct Pending {
    start: Option<u64>,
    pax: Option<PaxRecords>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    /// Name of the extension header being read (for `g` pseudo-members).
    ext_name: Vec<u8>,
}

/// The parser. See the module documentation.
pub struct Parser {
    state: State,
    offset: u64,
    block: Box<[u8; BLOCK]>,
    block_len: usize,
    ext: Vec<u8>,
    pending: Pending,
    member: Member,
    limits: Limits,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Parser {
    /// A parser at the start of an archive.
    pub fn new(limits: Limits) -> Self {
        Self {
            state: State::Header,
            offset: 0,
            block: Box::new(ZERO_BLOCK),
            block_len: 0,
            ext: Vec::new(),
            pending: Pending::default(),
            member: Member::default(),
            limits,
        }
    }

    /// The member most recently reported by [`Event::Member`].
    pub fn member(&self) -> &Member {
        &self.member
    }

    /// Number of input bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Payload bytes of the current member not yet consumed, when the
    /// parser is inside a payload.
    pub fn data_remaining(&self) -> Option<u64> {
        match self.state {
            State::Data { remaining } => Some(remaining),
            _ => None,
        }
    }

    /// Whether the parser is between members: after a member's payload or
    /// before the first header, with no partial block.
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Header if self.block_len == 0 && self.pending.start.is_none())
            || matches!(self.state, State::Trailer | State::Ended)
    }

    /// Whether the parser is reading a PAX 1.0 sparse map, which sits at the
    /// start of the member's payload area.
    pub fn in_sparse_map(&self) -> bool {
        matches!(self.state, State::SparseMap { .. })
    }

    /// Whether the end-of-archive marker has been read.
    pub fn ended(&self) -> bool {
        matches!(self.state, State::Trailer | State::Ended)
    }

    /// Skips `n` payload bytes without looking at them (the caller has them
    /// from elsewhere). `n` must not exceed [`Self::data_remaining`].
    pub fn skip_data(&mut self, n: u64) {
        if let State::Data { remaining } = self.state {
            let n = n.min(remaining);
            self.offset += n;
            self.state = self.after_data(remaining - n);
        }
    }

    /// Reports what the leading bytes of `input` are. `input` must start
    /// where the previous call's consumed bytes ended.
    pub fn step(&mut self, input: &[u8]) -> Result<Event> {
        match self.state {
            State::Header | State::SparseBlock => self.read_block(input),
            State::Extension {
                kind,
                remaining,
                padding,
            } => self.read_extension(input, kind, remaining, padding),
            State::SparseMap { area } => self.read_sparse_map(input, area),
            State::Announce => {
                self.state = match self.member.data_len {
                    0 => State::DataDone { padding: 0 },
                    n => State::Data { remaining: n },
                };
                Ok(Event::Member)
            }
            State::Data { remaining } => {
                let n = take(input, remaining);
                if n == 0 {
                    return Ok(Event::NeedInput);
                }
                self.offset += n as u64;
                self.state = self.after_data(remaining - n as u64);
                Ok(Event::Data(n))
            }
            State::DataDone { padding } => {
                self.state = State::Padding { remaining: padding };
                Ok(Event::MemberEnd)
            }
            State::Padding { remaining } => {
                if remaining == 0 {
                    self.state = State::Header;
                    return self.step(input);
                }
                let n = take(input, remaining);
                if n == 0 {
                    return Ok(Event::NeedInput);
                }
                self.offset += n as u64;
                self.state = State::Padding {
                    remaining: remaining - n as u64,
                };
                Ok(Event::Raw(n))
            }
            State::Ended => {
                self.state = State::Trailer;
                Ok(Event::End)
            }
            State::Trailer if input.is_empty() => Ok(Event::NeedInput),
            State::Trailer => {
                self.offset += input.len() as u64;
                Ok(Event::Raw(input.len()))
            }
        }
    }

    /// Checks that the input may end here. Call once the input is exhausted
    /// and [`Self::step`] has returned [`Event::NeedInput`].
    pub fn finish(&self) -> Result<()> {
        let what = match self.state {
            State::Trailer | State::Ended => return Ok(()),
            State::Header if self.block_len == 0 => return Ok(()),
            State::Header | State::SparseBlock => {
                format!("inside a header block ({} of 512 bytes)", self.block_len)
            }
            State::Extension { .. } => "inside extension header data".to_string(),
            State::SparseMap { .. } => "inside a sparse map".to_string(),
            State::Data { remaining } => format!(
                "member {:?} needs {remaining} more bytes",
                display_name(&self.member.name)
            ),
            State::Padding { remaining } => format!("{remaining} bytes of padding missing"),
            State::Announce | State::DataDone { .. } => {
                "before the member was reported".to_string()
            }
        };
        Err(Error::Truncated {
            offset: self.offset,
            what,
        })
    }

    fn after_data(&self, remaining: u64) -> State {
        if remaining > 0 {
            State::Data { remaining }
        } else {
            State::DataDone {
                padding: padding(self.member.data_len),
            }
        }
    }

    fn read_block(&mut self, input: &[u8]) -> Result<Event> {
        if input.is_empty() {
            return Ok(Event::NeedInput);
        }
        let n = take(input, (BLOCK - self.block_len) as u64);
        self.block[self.block_len..self.block_len + n].copy_from_slice(&input[..n]);
        self.block_len += n;
        self.offset += n as u64;
        if self.block_len == BLOCK {
            self.block_len = 0;
            let block_offset = self.offset - BLOCK as u64;
            match self.state {
                State::SparseBlock => self.on_sparse_block(block_offset)?,
                _ => self.on_header_block(block_offset)?,
            }
        }
        Ok(Event::Raw(n))
    }

    fn on_header_block(&mut self, offset: u64) -> Result<()> {
        if self.block[..] == ZERO_BLOCK[..] {
            // Extension headers with no member after them apply to nothing;
            // Go's reader ends the archive here too.
            self.pending = Pending::default();
            self.state = State::Ended;
            return Ok(());
        }
        let block = *self.block;
        let header = HeaderBlock {
            bytes: &block,
            offset,
        };
        let format = header.format()?;
        let ext_kind = match header.typeflag() {
            b'x' => Some(ExtKind::Pax),
            b'g' => Some(ExtKind::GlobalPax),
            b'L' => Some(ExtKind::LongName),
            b'K' => Some(ExtKind::LongLink),
            _ => None,
        };
        match ext_kind {
            Some(kind) => self.begin_extension(&header, kind),
            None => self.begin_member(&header, format),
        }
    }

    fn begin_extension(&mut self, header: &HeaderBlock<'_>, kind: ExtKind) -> Result<()> {
        let size = header.unsigned("size", field::SIZE)?;
        if size > self.limits.max_extension {
            return Err(Error::TooLarge {
                offset: header.offset,
                what: "extension header data",
                size,
                limit: self.limits.max_extension,
            });
        }
        self.pending.start.get_or_insert(header.offset);
        self.pending.ext_name = header.text(field::NAME).to_vec();
        self.ext.clear();
        self.state = State::Extension {
            kind,
            remaining: size,
            padding: padding(size),
        };
        Ok(())
    }

    fn read_extension(
        &mut self,
        input: &[u8],
        kind: ExtKind,
        remaining: u64,
        pad: u64,
    ) -> Result<Event> {
        if remaining == 0 && pad == 0 {
            self.finish_extension(kind)?;
            return self.step(input);
        }
        let n = take(input, remaining + pad);
        if n == 0 {
            return Ok(Event::NeedInput);
        }
        let data = n.min(remaining as usize);
        self.ext.extend_from_slice(&input[..data]);
        self.offset += n as u64;
        let pad_used = (n - data) as u64;
        self.state = State::Extension {
            kind,
            remaining: remaining - data as u64,
            padding: pad - pad_used,
        };
        Ok(Event::Raw(n))
    }

    fn finish_extension(&mut self, kind: ExtKind) -> Result<()> {
        let start = self.pending.start.unwrap_or(self.offset);
        let data = std::mem::take(&mut self.ext);
        self.state = State::Header;
        match kind {
            ExtKind::Pax => self.pending.pax = Some(pax_records(&data, start)?),
            ExtKind::LongName => {
                self.pending.long_name = Some(crate::header::c_string(&data).to_vec())
            }
            ExtKind::LongLink => {
                self.pending.long_link = Some(crate::header::c_string(&data).to_vec())
            }
            ExtKind::GlobalPax => {
                pax_records(&data, start)?;
                let name = std::mem::take(&mut self.pending.ext_name);
                self.pending = Pending::default();
                self.member = Member {
                    name,
                    kind: kind::PAX_GLOBAL,
                    header_offset: start,
                    ..Member::default()
                };
                self.state = State::Announce;
            }
        }
        Ok(())
    }

    fn begin_member(&mut self, header: &HeaderBlock<'_>, format: Format) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let mut member = basic_member(header, format)?;
        member.header_offset = pending.start.unwrap_or(header.offset);
        let mut size = header.unsigned("size", field::SIZE)?;
        if let Some(pax) = &pending.pax {
            merge_pax(&mut member, &mut size, pax).map_err(|reason| Error::Pax {
                offset: member.header_offset,
                reason,
            })?;
        }
        if let Some(name) = pending.long_name.filter(|n| !n.is_empty()) {
            member.name = name;
        }
        if let Some(link) = pending.long_link.filter(|n| !n.is_empty()) {
            member.link_name = link;
        }
        if member.kind == 0 {
            member.kind = if member.name.ends_with(b"/") {
                kind::DIRECTORY
            } else {
                kind::REGULAR
            };
        }
        member.size = size;
        member.data_len = if kind::is_header_only(member.kind) {
            0
        } else {
            size
        };
        self.member = member;
        self.state = State::Announce;
        if self.member.kind == kind::GNU_SPARSE {
            self.begin_old_gnu_sparse(header, format)?;
        } else if let Some(pax) = &pending.pax {
            self.begin_pax_sparse(pax)?;
        }
        Ok(())
    }

    fn begin_old_gnu_sparse(&mut self, header: &HeaderBlock<'_>, format: Format) -> Result<()> {
        if format != Format::Gnu {
            return Err(self.sparse_error("sparse type flag in a non-GNU header".into()));
        }
        let real_size = header.unsigned("realsize", field::GNU_REAL_SIZE)?;
        let mut regions = Vec::new();
        sparse::old_gnu_entries(&header.bytes[field::GNU_SPARSE], &mut regions)
            .map_err(|r| self.sparse_error(r))?;
        self.member.size = real_size;
        self.member.sparse = Some(crate::member::SparseMap { regions, real_size });
        if header.bytes[field::GNU_IS_EXTENDED] != 0 {
            self.state = State::SparseBlock;
            return Ok(());
        }
        self.finish_sparse()
    }

    fn on_sparse_block(&mut self, _offset: u64) -> Result<()> {
        let block = *self.block;
        let mut regions = match self.member.sparse.as_mut() {
            Some(map) => std::mem::take(&mut map.regions),
            None => return Err(self.sparse_error("extension block without a map".into())),
        };
        let parsed = sparse::old_gnu_entries(&block[field::EXT_SPARSE], &mut regions);
        let count = regions.len();
        if let Some(map) = self.member.sparse.as_mut() {
            map.regions = regions;
        }
        parsed.map_err(|r| self.sparse_error(r))?;
        if count > self.limits.max_sparse_regions {
            return Err(self.sparse_error("too many sparse regions".into()));
        }
        if block[field::EXT_IS_EXTENDED] == 0 {
            self.state = State::Announce;
            self.finish_sparse()?;
        }
        Ok(())
    }

    fn begin_pax_sparse(&mut self, pax: &PaxRecords) -> Result<()> {
        let Some((encoding, real_size)) =
            sparse::from_pax(pax).map_err(|r| self.sparse_error(r))?
        else {
            return Ok(());
        };
        if let Some(name) = pax.get("GNU.sparse.name") {
            self.member.name = name.to_vec();
        }
        let real_size = real_size.unwrap_or(self.member.size);
        self.member.size = real_size;
        match encoding {
            PaxSparse::InRecords(regions) => {
                self.member.sparse = Some(crate::member::SparseMap { regions, real_size });
                self.finish_sparse()
            }
            PaxSparse::InData => {
                self.member.sparse = Some(crate::member::SparseMap {
                    regions: Vec::new(),
                    real_size,
                });
                self.ext.clear();
                self.state = State::SparseMap {
                    area: self.member.data_len,
                };
                Ok(())
            }
        }
    }

    fn read_sparse_map(&mut self, input: &[u8], area: u64) -> Result<Event> {
        if area < BLOCK as u64 {
            return Err(self.sparse_error("payload ends inside the sparse map".into()));
        }
        let want = BLOCK - self.ext.len() % BLOCK;
        let n = take(input, want as u64);
        if n == 0 {
            return Ok(Event::NeedInput);
        }
        self.ext.extend_from_slice(&input[..n]);
        self.offset += n as u64;
        if self.ext.len().is_multiple_of(BLOCK) {
            self.on_sparse_map_block(area - BLOCK as u64)?;
        }
        Ok(Event::Raw(n))
    }

    fn on_sparse_map_block(&mut self, area: u64) -> Result<()> {
        let parsed = sparse::parse_1x0(&self.ext, self.limits.max_sparse_regions)
            .map_err(|r| self.sparse_error(r))?;
        match parsed {
            Some((regions, _)) => {
                self.ext.clear();
                self.member.data_len = area;
                if let Some(map) = self.member.sparse.as_mut() {
                    map.regions = regions;
                }
                self.state = State::Announce;
                self.finish_sparse()
            }
            None if self.ext.len() as u64 >= self.limits.max_extension => Err(Error::TooLarge {
                offset: self.member.header_offset,
                what: "sparse map",
                size: self.ext.len() as u64,
                limit: self.limits.max_extension,
            }),
            None => {
                self.state = State::SparseMap { area };
                Ok(())
            }
        }
    }

    fn finish_sparse(&mut self) -> Result<()> {
        let Some(map) = self.member.sparse.take() else {
            return Ok(());
        };
        let checked = sparse::validate(map.regions, map.real_size, self.member.data_len)
            .map_err(|r| self.sparse_error(r))?;
        self.member.sparse = Some(checked);
        Ok(())
    }

    fn sparse_error(&self, reason: String) -> Error {
        Error::Sparse {
            offset: self.member.header_offset,
            name: display_name(&self.member.name),
            reason,
        }
    }
}

/// Number of bytes to consume: all of `input` up to `limit`.
fn take(input: &[u8], limit: u64) -> usize {
    usize::try_from(limit).map_or(input.len(), |l| l.min(input.len()))
}

/// Zero bytes that pad `len` bytes to a block boundary.
pub(crate) fn padding(len: u64) -> u64 {
    (BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64
}

fn pax_records(data: &[u8], offset: u64) -> Result<PaxRecords> {
    PaxRecords::parse(data).map_err(|reason| Error::Pax { offset, reason })
}

/// The fields of the header block itself, before extensions.
fn basic_member(header: &HeaderBlock<'_>, format: Format) -> Result<Member> {
    let mut member = Member {
        kind: header.typeflag(),
        name: header.text(field::NAME).to_vec(),
        link_name: header.text(field::LINKNAME).to_vec(),
        mode: header.number("mode", field::MODE)?,
        uid: header.number("uid", field::UID)?,
        gid: header.number("gid", field::GID)?,
        mtime: Time {
            secs: header.number("mtime", field::MTIME)?,
            nanos: 0,
        },
        ..Member::default()
    };
    if format == Format::V7 {
        return Ok(member);
    }
    member.uname = header.text(field::UNAME).to_vec();
    member.gname = header.text(field::GNAME).to_vec();
    member.dev_major = header.number("devmajor", field::DEVMAJOR)?;
    member.dev_minor = header.number("devminor", field::DEVMINOR)?;
    let prefix = match format {
        Format::Ustar => header.text(field::PREFIX),
        Format::Star => {
            member.atime = Some(Time {
                secs: header.number("atime", field::STAR_ATIME)?,
                nanos: 0,
            });
            member.ctime = Some(Time {
                secs: header.number("ctime", field::STAR_CTIME)?,
                nanos: 0,
            });
            header.text(field::STAR_PREFIX)
        }
        Format::Gnu => gnu_times(header, &mut member),
        Format::V7 => &[],
    };
    if !prefix.is_empty() {
        let mut name = prefix.to_vec();
        name.push(b'/');
        name.extend_from_slice(&member.name);
        member.name = name;
    }
    Ok(member)
}

/// GNU atime and ctime. Old Go writers put a ustar prefix there instead; if
/// the times do not parse and the field is ASCII, it is taken as a prefix.
fn gnu_times<'a>(header: &HeaderBlock<'a>, member: &mut Member) -> &'a [u8] {
    let time = |range: std::ops::Range<usize>| -> Option<Option<Time>> {
        let raw = &header.bytes[range];
        if raw[0] == 0 {
            return Some(None);
        }
        crate::header::parse_numeric(raw).map(|secs| Some(Time { secs, nanos: 0 }))
    };
    match (time(field::GNU_ATIME), time(field::GNU_CTIME)) {
        (Some(atime), Some(ctime)) => {
            member.atime = atime;
            member.ctime = ctime;
            &[]
        }
        _ => {
            let prefix = header.text(field::PREFIX);
            if prefix.is_ascii() { prefix } else { &[] }
        }
    }
}

/// Applies the PAX records that override header fields.
fn merge_pax(
    member: &mut Member,
    size: &mut u64,
    pax: &PaxRecords,
) -> std::result::Result<(), String> {
    let number = |key: &str| -> std::result::Result<Option<i64>, String> {
        pax.get(key)
            .map(|v| parse_decimal(v).ok_or_else(|| format!("invalid {key} record")))
            .transpose()
    };
    let time = |key: &str| -> std::result::Result<Option<Time>, String> {
        pax.get(key)
            .map(|v| parse_time(v).ok_or_else(|| format!("invalid {key} record")))
            .transpose()
    };
    if let Some(path) = pax.get("path") {
        member.name = path.to_vec();
    }
    if let Some(link) = pax.get("linkpath") {
        member.link_name = link.to_vec();
    }
    if let Some(uname) = pax.get("uname") {
        member.uname = uname.to_vec();
    }
    if let Some(gname) = pax.get("gname") {
        member.gname = gname.to_vec();
    }
    if let Some(uid) = number("uid")? {
        member.uid = uid;
    }
    if let Some(gid) = number("gid")? {
        member.gid = gid;
    }
    if let Some(n) = number("size")? {
        *size = u64::try_from(n).map_err(|_| "negative size record".to_string())?;
    }
    if let Some(t) = time("mtime")? {
        member.mtime = t;
    }
    if let Some(t) = time("atime")? {
        member.atime = Some(t);
    }
    if let Some(t) = time("ctime")? {
        member.ctime = Some(t);
    }
    member.xattrs = pax.xattrs()?;
    Ok(())
}
