//! The administration commands of `folio` (the command line is for IT on the server: it acts
//! as `cli` in the audit trail). Every command that prints data takes `--json`.

mod archive;
mod audit;
mod devices;
mod directory;
mod scan;

pub use archive::{run as archive, ArchiveCommand};
pub use audit::{run as audit, AuditCommand};
pub use devices::{device, DeviceCommand};
pub use directory::{badge, directory, BadgeCommand, DirectoryCommand};
pub use scan::{run as scan, ScanCommand};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
