//! Unit tests of the health module.
