//! The virtual queue over IPP: jobs made, listed, held, cancelled; bad input; durability.

mod bad_input;
mod durability;
mod jobs;
