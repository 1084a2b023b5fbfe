fn main() {
    // Link `warden` as a position-dependent executable: it is exec'd twice for every
    // sandboxed command (the CLI, then the sandbox's init), and a PIE of this size
    // spends about a millisecond at each start applying ~25k relocations.
    println!("cargo:rustc-link-arg-bin=warden=-no-pie");
}
