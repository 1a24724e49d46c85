//! Test harness: starts and stops real broker peers for integration tests.
