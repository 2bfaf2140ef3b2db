//! The copier registry: adding, listing, tokens, driver profiles, capabilities.

mod registry;
