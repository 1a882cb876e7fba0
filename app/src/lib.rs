//! The CLI of rds-snapshot-policy (`cli`): argument parsing and rendering over the provider
//! library and the macro; it decides nothing itself. The binaries are in `src/bin`.

pub mod cli;
