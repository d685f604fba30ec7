//! Route files and the route table.
pub mod file;
