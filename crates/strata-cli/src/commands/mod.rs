//! One module per command family; each parses nothing and prints little.

mod commit;
mod completion;
mod container;
mod df;
mod format;
mod image;
mod image_exists;
mod image_list;
mod image_mount;
mod image_show;
mod layer_diff;
mod layer_edit;
mod layer_make;
mod layer_show;
mod man;
mod not_found;
mod output;
mod progress;
mod prune;
mod registry;
mod remove;
mod serve;
mod store;
mod tar_split;
mod transfer;
mod verbs;
mod version;

use anyhow::Result;
use strata::{Store, StoreOptions};

use crate::cli::{
    Cli, Command, ContainerCommand, ImageCommand, LayerCommand, StoreArgs, SystemCommand,
    TarSplitCommand,
};

/// Runs the command line. A failure to find an image says which names
/// are close to the one asked for.
pub fn run(cli: Cli) -> Result<()> {
    let store = cli.store.clone();
    dispatch(cli).map_err(|e| not_found::with_similar_names(&store, e))
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::TarSplit(TarSplitCommand::Disasm(args)) => tar_split::disasm(&args),
        Command::TarSplit(TarSplitCommand::Asm(args)) => tar_split::asm(&args),
        Command::Layers(args) => layer_show::list(&open_to_read(&cli.store)?, &args),
        Command::Layer(LayerCommand::Ls(args)) => {
            layer_show::list(&open_to_read(&cli.store)?, &args)
        }
        Command::Layer(LayerCommand::Inspect(args)) => {
            layer_show::inspect(&open_to_read(&cli.store)?, &args)
        }
        Command::Layer(command) => layer(&open(&cli.store)?, command),
        Command::Containers(args) => container::list(&open_to_read(&cli.store)?, &args),
        Command::Container(ContainerCommand::Ls(args)) => {
            container::list(&open_to_read(&cli.store)?, &args)
        }
        Command::Container(ContainerCommand::Inspect(args)) => {
            container::inspect(&open_to_read(&cli.store)?, &args)
        }
        Command::Container(command) => container(&open(&cli.store)?, command),
        Command::Images(args) => image_list::list(&open_to_read(&cli.store)?, &args),
        Command::Image(
            command @ (ImageCommand::Ls(_)
            | ImageCommand::Inspect(_)
            | ImageCommand::History(_)
            | ImageCommand::Exists(_)),
        ) => image(&open_to_read(&cli.store)?, command),
        Command::Image(command) => image(&open(&cli.store)?, command),
        Command::Rmi(args) => image::remove(&open(&cli.store)?, &args),
        Command::Rm(args) => container::remove(&open(&cli.store)?, &args),
        Command::Tag(args) => image::tag(&open(&cli.store)?, &args),
        Command::History(args) => image_show::history(&open_to_read(&cli.store)?, &args),
        Command::Inspect(args) => verbs::inspect(&open_to_read(&cli.store)?, &args),
        Command::Diff(args) => verbs::diff(&open(&cli.store)?, &args),
        Command::Commit(args) => commit::commit(&open(&cli.store)?, &args),
        Command::Import(args) => commit::import(&open(&cli.store)?, &args),
        Command::Export(args) => commit::export(&open(&cli.store)?, &args),
        Command::Save(args) => transfer::save(&open(&cli.store)?, &args),
        Command::Load(args) => transfer::load(&open(&cli.store)?, &args),
        Command::Copy(args) => transfer::copy(&open(&cli.store)?, &args),
        Command::Pull(args) => registry::pull(&open(&cli.store)?, &args),
        Command::Push(args) => registry::push(&open(&cli.store)?, &args),
        Command::Login(args) => registry::login(&args),
        Command::Logout(args) => registry::logout(&args),
        Command::Serve(args) if args.read_only => serve::serve(open_to_read(&cli.store)?, &args),
        Command::Serve(args) => serve::serve(open(&cli.store)?, &args),
        Command::Fsck(args) => store::fsck(&open(&cli.store)?, &args),
        Command::Gc(args) => store::gc(&open(&cli.store)?, &args),
        Command::System(SystemCommand::Prune(args)) => prune::system(&open(&cli.store)?, &args),
        Command::System(SystemCommand::Df(args)) => df::df(&open(&cli.store)?, &args),
        Command::Status(args) => store::status(&open_to_read(&cli.store)?, &args),
        Command::Version(args) => version::version(&options(&cli.store), &args),
        Command::Completion(args) => completion::completion(&args),
        Command::Man(args) => man::man(&args),
    }
}

fn layer(store: &Store, command: LayerCommand) -> Result<()> {
    match command {
        LayerCommand::Import(args) => layer_make::import(store, &args),
        LayerCommand::Create(args) => layer_make::create(store, &args),
        LayerCommand::Ls(args) => layer_show::list(store, &args),
        LayerCommand::Inspect(args) => layer_show::inspect(store, &args),
        LayerCommand::Diff(args) => layer_diff::diff(store, &args),
        LayerCommand::Changes(args) => layer_diff::changes(store, &args),
        LayerCommand::DiffSize(args) => layer_diff::diff_size(store, &args),
        LayerCommand::Mount(args) => layer_edit::mount(store, &args),
        LayerCommand::Unmount(args) => layer_edit::unmount(store, &args),
        LayerCommand::Rm(args) => layer_edit::remove(store, &args),
        LayerCommand::Names(command) => layer_edit::names(store, command),
        LayerCommand::Metadata(args) => layer_edit::metadata(store, &args),
    }
}

fn image(store: &Store, command: ImageCommand) -> Result<()> {
    match command {
        ImageCommand::Ls(args) => image_list::list(store, &args),
        ImageCommand::Inspect(args) => image_show::inspect(store, &args),
        ImageCommand::History(args) => image_show::history(store, &args),
        ImageCommand::Tag(args) => image::tag(store, &args),
        ImageCommand::Untag(args) => image::untag(store, &args),
        ImageCommand::Rm(args) => image::remove(store, &args),
        ImageCommand::Exists(args) => image_exists::exists(store, &args),
        ImageCommand::Prune(args) => prune::images(store, &args),
        ImageCommand::Mount(args) => image_mount::mount(store, &args),
        ImageCommand::Unmount(args) => image_mount::unmount(store, &args),
    }
}

fn container(store: &Store, command: ContainerCommand) -> Result<()> {
    match command {
        ContainerCommand::Create(args) => container::create(store, &args),
        ContainerCommand::Ls(args) => container::list(store, &args),
        ContainerCommand::Inspect(args) => container::inspect(store, &args),
        ContainerCommand::Mount(args) => container::mount(store, &args),
        ContainerCommand::Unmount(args) => container::unmount(store, &args),
        ContainerCommand::Rm(args) => container::remove(store, &args),
        ContainerCommand::Prune(args) => prune::containers(store, &args),
        ContainerCommand::Commit(args) => commit::commit(store, &args),
    }
}

fn open(args: &StoreArgs) -> Result<Store> {
    Ok(Store::open(&options(args))?)
}

/// Opens the store for commands that only read it: they work on a store
/// this user may read but not write.
fn open_to_read(args: &StoreArgs) -> Result<Store> {
    Ok(Store::open_to_read(&options(args))?)
}

fn options(args: &StoreArgs) -> StoreOptions {
    StoreOptions {
        root: args.root.clone(),
        runroot: args.runroot.clone(),
        driver: args.driver.clone(),
    }
}
