//! `strata tar-split disasm|asm`: the same semantics as Go's `tar-split`
//! command, so either can stand in for the other.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result};
use strata::{Output, write_output};
use tarsplit::io::{
    BackgroundEntries, DirSource, disassemble, finish_gzip_metadata, gzip_metadata, read_metadata,
};

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

/// `tar-split disasm`. The metadata is spooled to an unnamed temporary
/// file (a second pass over it inlines the payloads of duplicated paths),
/// then copied to the output, opened first so a bad output path fails
/// before the input is read.
pub fn disasm(args: &DisasmArgs) -> Result<()> {
    let mut output = Output::create(&args.output)?;
    let mut input = Input::open(args.input.as_deref())?;
    let spool = tempfile::tempfile().context("cannot create a spool file")?;
    let mut metadata = gzip_metadata(BufWriter::new(spool));
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
    let first = finish_gzip_metadata(metadata)?
        .into_inner()
        .map_err(|e| e.into_error())?;
    let mut done = if summary.superseded.is_empty() {
        first
    } else {
        inline_duplicates(first, &summary.superseded, input)?
    };
    done.rewind()?;
    copy_into(&mut done, &mut output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    output.finish()?;
    Ok(())
}

fn copy_into(from: &mut File, output: &mut Output) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(256 << 10, output);
    std::io::copy(from, &mut out)?;
    out.flush()
}

/// Second pass for archives that repeat a path: the payloads of earlier
/// occurrences go into the metadata.
fn inline_duplicates(
    mut first: File,
    superseded: &[tarsplit::Superseded],
    input: Input,
) -> Result<File> {
    let archive = input.rewind()?;
    first.rewind()?;
    let second = tempfile::tempfile().context("cannot create a spool file")?;
    let second =
        tarsplit::io::inline_duplicates(archive, first, superseded, BufWriter::new(second))
            .context("cannot record the payloads of duplicated paths")?;
    Ok(second.into_inner().map_err(|e| e.into_error())?)
}

/// `tar-split asm`.
pub fn asm(args: &AsmArgs) -> Result<()> {
    let input =
        File::open(&args.input).with_context(|| format!("cannot open {}", args.input.display()))?;
    let entries = read_metadata(input)?;
    let mut source = DirSource::new(&args.path)
        .with_context(|| format!("cannot open {}", args.path.display()))?;
    if args.output == Path::new("-") {
        return assemble(
            entries,
            &mut source,
            args.compress,
            std::io::stdout().lock(),
        );
    }
    write_output(&args.output, |out| {
        assemble(entries, &mut source, args.compress, out)
    })
    .with_context(|| format!("cannot write {}", args.output.display()))
}

/// Rebuilds the tar from `entries` and the files of `source` into `out`.
fn assemble(
    entries: BackgroundEntries,
    source: &mut DirSource,
    compress: bool,
    out: impl Write,
) -> Result<()> {
    let mut out = BufWriter::with_capacity(256 << 10, out);
    if compress {
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        tarsplit::assemble(entries, source, &mut gz).context("cannot reassemble the tar")?;
        gz.finish()?.flush()?;
    } else {
        tarsplit::assemble(entries, source, &mut out).context("cannot reassemble the tar")?;
        out.flush()?;
    }
    Ok(())
}
