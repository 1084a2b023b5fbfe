//! The confinement applied to every command in a sandbox: seccomp and Landlock.
