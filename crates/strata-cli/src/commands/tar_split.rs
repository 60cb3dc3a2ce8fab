//! `strata tar-split disasm|asm`: the same semantics as Go's `tar-split`
//! command, so either can stand in for the other.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result};
use tarsplit::inline::FromArchive;
use tarsplit::io::{DirSource, disassemble, finish_gzip_metadata, gzip_metadata, read_metadata};

use crate::cli::{AsmArgs, DisasmArgs};

/// Where the archive is read from, and how it can be read again if
/// duplicated paths force a second look.
enum Input {
    /// A regular file: seekable as it is.
    File(File),
    /// A pipe: every byte is also spooled to an unnamed temporary file.
    Pipe(std::io::Stdin, File),
}

impl Input {
    fn open(path: Option<&Path>) -> Result<Self> {
        match path {
            Some(path) if path != Path::new("-") => {
                let file =
                    File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                Ok(Input::File(file))
            }
            _ => {
                let stdin = std::io::stdin();
                let file = File::from(stdin.as_fd().try_clone_to_owned()?);
                if file.metadata()?.is_file() {
                    return Ok(Input::File(file));
                }
                let spool = tempfile::tempfile().context("cannot create a spool file")?;
                Ok(Input::Pipe(stdin, spool))
            }
        }
    }

    /// The archive again, from its start.
    fn rewind(self) -> Result<File> {
        let mut file = match self {
            Input::File(file) | Input::Pipe(_, file) => file,
        };
        file.rewind()?;
        Ok(file)
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Input::File(file) => file.read(buf),
            Input::Pipe(stdin, spool) => {
                let n = stdin.read(buf)?;
                spool.write_all(&buf[..n])?;
                Ok(n)
            }
        }
    }
}

/// `tar-split disasm`.
pub fn disasm(args: &DisasmArgs) -> Result<()> {
    let mut input = Input::open(args.input.as_deref())?;
    let dir = match args.output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let first = tempfile::NamedTempFile::new_in(dir).context("cannot create the metadata file")?;
    let mut metadata = gzip_metadata(BufWriter::new(first.reopen()?));
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let passthrough: Option<&mut dyn Write> = if args.no_stdout {
        None
    } else {
        Some(&mut stdout)
    };
    let summary = disassemble(&mut input, &mut metadata, passthrough)
        .context("cannot disassemble the tar")?;
    stdout.flush()?;
    finish_gzip_metadata(metadata)?.flush()?;
    let done = if summary.superseded.is_empty() {
        first
    } else {
        inline_duplicates(first, &summary.superseded, input, dir)?
    };
    done.persist(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(())
}

/// Second pass for archives that repeat a path: the payloads of earlier
/// occurrences go into the metadata.
fn inline_duplicates(
    first: tempfile::NamedTempFile,
    superseded: &[tarsplit::Superseded],
    input: Input,
    dir: &Path,
) -> Result<tempfile::NamedTempFile> {
    let mut archive = input.rewind()?;
    let second = tempfile::NamedTempFile::new_in(dir)?;
    let mut metadata = gzip_metadata(BufWriter::new(second.reopen()?));
    let entries = read_metadata(first.reopen()?)?;
    tarsplit::inline::inline_superseded(
        entries,
        superseded,
        &mut FromArchive(&mut archive),
        &mut metadata,
    )
    .context("cannot record the payloads of duplicated paths")?;
    finish_gzip_metadata(metadata)?.flush()?;
    Ok(second)
}

/// `tar-split asm`.
pub fn asm(args: &AsmArgs) -> Result<()> {
    let input =
        File::open(&args.input).with_context(|| format!("cannot open {}", args.input.display()))?;
    let entries = read_metadata(input)?;
    let mut source = DirSource::new(&args.path)
        .with_context(|| format!("cannot open {}", args.path.display()))?;
    let out: Box<dyn Write> = if args.output == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        Box::new(file)
    };
    let mut out = BufWriter::with_capacity(256 << 10, out);
    if args.compress {
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        tarsplit::assemble(entries, &mut source, &mut gz).context("cannot reassemble the tar")?;
        gz.finish()?.flush()?;
    } else {
        tarsplit::assemble(entries, &mut source, &mut out).context("cannot reassemble the tar")?;
        out.flush()?;
    }
    Ok(())
}
