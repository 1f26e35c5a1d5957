//! Where `put` and `get` keep the signed evidence of each file moved: one
//! receipts file per command run ([`sft::receipt`]), one line per file, in
//! `$SFT_HOME/receipts/` or `--receipt-dir`.

use std::path::{Path, PathBuf};

use clap::Args;
use sft::proto::evidence::Evidence;
use sft::receipt::{Record, Writer};

use crate::cli::error::CliError;
use crate::cli::home;

/// The receipt flag shared by put and get.
#[derive(Clone, Debug, Args)]
pub struct ReceiptArgs {
    /// Keep the signed receipts of the files moved in a new file in this directory, one JSON line per file (check them with `sft receipt verify`) [default: $SFT_HOME/receipts]
    #[arg(long, value_name = "DIR")]
    receipt_dir: Option<PathBuf>,
}

/// The receipts of one command: where they go and what they name.
pub(super) struct Receipts {
    dir: PathBuf,
    /// `<UTC time>-<op>-<random>.jsonl`, chosen when the command starts.
    name: String,
    /// The server as the user named it (context in each line, unsigned).
    host: String,
    /// Created with the first receipt.
    writer: Option<Writer>,
}

impl Receipts {
    /// Receipts of `op` ("put" or "get") with `host`, kept where `args`
    /// says.
    ///
    /// # Errors
    /// Neither `SFT_HOME` nor `HOME` set (without `--receipt-dir`); no
    /// random bytes for the name.
    pub(super) fn new(args: &ReceiptArgs, op: &str, host: &str) -> Result<Self, CliError> {
        let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        let random: [u8; 4] = sft::crypto::rand::array()
            .map_err(|e| CliError::new(crate::cli::error::Exit::Usage, e.to_string()))?;
        Ok(Receipts {
            dir: home::home_file(args.receipt_dir.clone(), "receipts")?,
            name: format!("{stamp}-{op}-{}.jsonl", hex::encode(random)),
            host: host.to_string(),
            writer: None,
        })
    }

    /// Appends the receipt of a file moved to or from `local`; returns the
    /// receipts file's path, or why it could not be written.
    pub(super) fn keep(&mut self, evidence: &Evidence, local: &Path) -> Result<PathBuf, String> {
        let record = Record {
            evidence: evidence.clone(),
            host: self.host.clone(),
            local_path: local.display().to_string(),
        };
        let failed = |e: sft::receipt::ReceiptError| {
            format!(
                "moved, but its receipt could not be written to {}: {e}",
                self.dir.display()
            )
        };
        if self.writer.is_none() {
            self.writer = Some(Writer::create(&self.dir, &self.name).map_err(failed)?);
        }
        let writer = self.writer.as_mut().expect("created above");
        writer.append(&record).map_err(failed)?;
        Ok(writer.path().to_path_buf())
    }

    /// Flushes the receipts to disk (one fsync for the command).
    pub(super) fn sync(&self) {
        if let Some(Err(e)) = self.writer.as_ref().map(Writer::sync) {
            say!(
                "sft: warning: receipts in {} may not be on disk: {e}",
                self.dir.display()
            );
        }
    }
}
