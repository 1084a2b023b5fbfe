//! The pipeline against a real store in a temp dir and a scripted fake agent.

mod batching;
mod common;
mod leases;
mod revalidate;
mod sessions;
mod slots;
mod stops;
