//! What the parser knows about one archive member once all of its header
//! blocks have been read: the header fields with GNU and PAX extensions
//! applied, and where its payload lies in the archive.

/// A point in time as a tar header carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// Seconds since the Unix epoch (may be negative).
    pub secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

/// One data region of a sparse file: `length` bytes at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparseRegion {
    /// Offset in the extracted file.
    pub offset: u64,
    /// Number of bytes stored in the archive for this region.
    pub length: u64,
}

/// The map of a sparse member: which regions of the file the archive stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseMap {
    /// Data regions in increasing, non-overlapping order.
    pub regions: Vec<SparseRegion>,
    /// Size of the extracted file, holes included.
    pub real_size: u64,
}

/// Type flags of members, as in the header (`'\0'` is reported as `'0'`,
/// or `'5'` for a legacy directory name ending in `/`).
pub mod kind {
    /// Regular file.
    pub const REGULAR: u8 = b'0';
    /// Hard link to an earlier member.
    pub const HARD_LINK: u8 = b'1';
    /// Symbolic link.
    pub const SYMLINK: u8 = b'2';
    /// Character device.
    pub const CHAR_DEVICE: u8 = b'3';
    /// Block device.
    pub const BLOCK_DEVICE: u8 = b'4';
    /// Directory.
    pub const DIRECTORY: u8 = b'5';
    /// FIFO.
    pub const FIFO: u8 = b'6';
    /// Contiguous file (a regular file for every practical purpose).
    pub const CONTIGUOUS: u8 = b'7';
    /// PAX global extended header (reported as a pseudo-member).
    pub const PAX_GLOBAL: u8 = b'g';
    /// Old GNU sparse file.
    pub const GNU_SPARSE: u8 = b'S';

    /// Types whose size field never counts payload bytes (as Go's reader).
    pub fn is_header_only(kind: u8) -> bool {
        matches!(
            kind,
            HARD_LINK | SYMLINK | CHAR_DEVICE | BLOCK_DEVICE | DIRECTORY | FIFO
        )
    }
}

/// Extended attributes: (name, value) pairs in archive order.
pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// One member of the archive.
#[derive(Debug, Clone, Default)]
pub struct Member {
    /// Path as recorded (GNU long name, PAX `path` or sparse name applied).
    pub name: Vec<u8>,
    /// Link target for hard and symbolic links.
    pub link_name: Vec<u8>,
    /// Type flag, see [`kind`].
    pub kind: u8,
    /// Mode as stored, possibly with file-type bits; mask with `0o7777`.
    pub mode: i64,
    /// Owner id.
    pub uid: i64,
    /// Group id.
    pub gid: i64,
    /// Owner name.
    pub uname: Vec<u8>,
    /// Group name.
    pub gname: Vec<u8>,
    /// Modification time.
    pub mtime: Time,
    /// Access time, when the archive records one.
    pub atime: Option<Time>,
    /// Change time, when the archive records one.
    pub ctime: Option<Time>,
    /// Device major number.
    pub dev_major: i64,
    /// Device minor number.
    pub dev_minor: i64,
    /// Extended attributes from PAX records.
    pub xattrs: Xattrs,
    /// Logical size: the extracted file's size (for sparse members, holes
    /// included). Header-only types may carry a non-zero size here.
    pub size: u64,
    /// Number of payload bytes that follow the headers in the archive.
    pub data_len: u64,
    /// For sparse members, which regions of the file the payload holds.
    pub sparse: Option<SparseMap>,
    /// Offset of the member's first header block in the archive.
    pub header_offset: u64,
}

impl Member {
    /// Permission bits (including setuid, setgid and sticky).
    pub fn permissions(&self) -> u32 {
        (self.mode & 0o7777) as u32
    }

    /// Whether this is a real entry of the archive, as opposed to the
    /// pseudo-member reported for a PAX global header.
    pub fn is_entry(&self) -> bool {
        self.kind != kind::PAX_GLOBAL
    }
}
