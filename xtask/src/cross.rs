//! Static musl cross builds: the Rust targets, and the C libraries the router daemon links
//! (libmnl, libnftnl, through the `mnl`/`nftnl` crates), built once per target from their
//! release tarballs with Debian's gcc (host gcc for x86_64, `gcc-aarch64-linux-gnu` for
//! aarch64) turned into a musl compiler by a gcc specs file: musl's own headers, the kernel
//! headers of that architecture, and the crt objects and `libc.a` of Rust's self-contained
//! musl sysroot, so C and Rust agree on one libc. Everything lands in `target/cross/` and is
//! rebuilt only when the recipe changes. See docs/dependencies.md ("Cross builds").

use crate::setup;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The static release targets, in build order.
pub const TARGETS: [&str; 2] = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"];

/// A release tarball, its SHA-256, and where to get it (first that answers wins; all are the
/// same upstream file: Debian's and Ubuntu's `.orig` tarballs are the upstream release).
struct Source {
    dir: &'static str,
    file: &'static str,
    sha256: &'static str,
    urls: &'static [&'static str],
}

const MUSL: Source = Source {
    dir: "musl-1.2.5",
    file: "musl_1.2.5.orig.tar.gz",
    sha256: "a9a118bbe84d8764da0ea0d28b3ab3fae8477fc7e4085d90102b8596fc7c75e4",
    urls: &[
        "http://deb.debian.org/debian/pool/main/m/musl/musl_1.2.5.orig.tar.gz",
        "http://archive.ubuntu.com/ubuntu/pool/universe/m/musl/musl_1.2.5.orig.tar.gz",
        "https://musl.libc.org/releases/musl-1.2.5.tar.gz",
    ],
};

const LIBMNL: Source = Source {
    dir: "libmnl-1.0.5",
    file: "libmnl_1.0.5.orig.tar.bz2",
    sha256: "274b9b919ef3152bfb3da3a13c950dd60d6e2bcd54230ffeca298d03b40d0525",
    urls: &[
        "http://deb.debian.org/debian/pool/main/libm/libmnl/libmnl_1.0.5.orig.tar.bz2",
        "http://archive.ubuntu.com/ubuntu/pool/main/libm/libmnl/libmnl_1.0.5.orig.tar.bz2",
        "https://www.netfilter.org/pub/libmnl/libmnl-1.0.5.tar.bz2",
    ],
};

const LIBNFTNL: Source = Source {
    dir: "libnftnl-1.2.6",
    file: "libnftnl_1.2.6.orig.tar.xz",
    sha256: "ceeaea2cd92147da19f13a35a7f1a4bc2767ff897e838e4b479cf54b59c777f4",
    urls: &[
        "http://archive.ubuntu.com/ubuntu/pool/main/libn/libnftnl/libnftnl_1.2.6.orig.tar.xz",
        "https://www.netfilter.org/pub/libnftnl/libnftnl-1.2.6.tar.xz",
    ],
};

/// Bump when the way the libraries are built changes: the next run rebuilds them.
const RECIPE: &str = "musl-1.2.5 libmnl-1.0.5 libnftnl-1.2.6 specs-v1 -Os -fPIC";

/// The C toolchain of one target.
struct Toolchain {
    gcc: &'static str,
    ar: &'static str,
    ranlib: &'static str,
    musl_arch: &'static str,
    /// Directories holding the kernel's `linux/`, `asm/` and `asm-generic/` headers.
    kernel_headers: &'static [&'static str],
}

fn toolchain(target: &str) -> Result<Toolchain> {
    Ok(match target {
        "x86_64-unknown-linux-musl" => Toolchain {
            gcc: "gcc",
            ar: "ar",
            ranlib: "ranlib",
            musl_arch: "x86_64",
            kernel_headers: &["/usr/include", "/usr/include/x86_64-linux-gnu"],
        },
        "aarch64-unknown-linux-musl" => Toolchain {
            gcc: "aarch64-linux-gnu-gcc",
            ar: "aarch64-linux-gnu-ar",
            ranlib: "aarch64-linux-gnu-ranlib",
            musl_arch: "aarch64",
            kernel_headers: &["/usr/aarch64-linux-gnu/include"],
        },
        other => bail!("no C toolchain known for {other}"),
    })
}

/// The workspace root (xtask lives in `<root>/xtask`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

/// `target/cross`: tarballs, per-target sysroots and libraries, and the cross builds' own
/// cargo target directory (so their host-side build scripts never invalidate the normal one).
pub fn cross_dir() -> PathBuf {
    workspace_root().join("target/cross")
}

/// The cargo target directory of the cross builds.
pub fn cargo_target_dir() -> PathBuf {
    cross_dir().join("cargo")
}

/// Adds the Rust targets when missing (idempotent).
pub fn ensure_rust_targets() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running `rustup target list --installed`")?;
    let installed = String::from_utf8_lossy(&out.stdout).to_string();
    for target in TARGETS {
        if !installed.lines().any(|l| l.trim() == target) {
            setup::run(Command::new("rustup").args(["target", "add", target]))?;
        }
    }
    Ok(())
}

/// Makes sure libmnl and libnftnl are built for `target`; returns the environment cargo needs
/// to build the router crate for it.
pub fn ensure_c_deps(target: &str) -> Result<Vec<(String, String)>> {
    let tc = toolchain(target)?;
    let dir = cross_dir().join(target);
    let stamp = dir.join("stamp");
    let recipe = format!("{RECIPE} {}", tc.gcc);
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(recipe.as_str()) {
        println!(
            "xtask: building libmnl and libnftnl for {target} (once, into {})",
            dir.display()
        );
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        build_c_deps(target, &tc, &dir)?;
        std::fs::write(&stamp, &recipe)?;
    }
    Ok(cargo_env(target, &tc, &dir))
}

fn cargo_env(target: &str, tc: &Toolchain, dir: &Path) -> Vec<(String, String)> {
    let t = target.replace('-', "_");
    let upper = t.to_uppercase();
    let prefix = dir.join("prefix");
    let s = |p: &Path| p.display().to_string();
    vec![
        // ring's C and assembly, with the same musl compiler.
        (format!("CC_{t}"), s(&dir.join("bin/cc"))),
        (format!("AR_{t}"), tc.ar.to_string()),
        (format!("CARGO_TARGET_{upper}_LINKER"), tc.gcc.to_string()),
        // mnl-sys and nftnl-sys find the libraries through pkg-config; only for this target
        // (the host build of nftnl-sys, a build-dependency of nftnl, keeps the system's).
        (format!("PKG_CONFIG_ALLOW_CROSS_{t}"), "1".into()),
        (
            format!("PKG_CONFIG_LIBDIR_{t}"),
            s(&prefix.join("lib/pkgconfig")),
        ),
        (format!("PKG_CONFIG_PATH_{t}"), String::new()),
        // Static link kinds, so rustc orders -lnftnl before -lmnl. For the host build these
        // change nothing: pkg-config's system libraries are never linked statically.
        ("LIBNFTNL_STATIC".into(), "1".into()),
        ("LIBMNL_STATIC".into(), "1".into()),
        ("CARGO_TARGET_DIR".into(), s(&cargo_target_dir())),
    ]
}

fn build_c_deps(target: &str, tc: &Toolchain, dir: &Path) -> Result<()> {
    let work = dir.join("build");
    let sysroot = dir.join("sysroot");
    let prefix = dir.join("prefix");
    std::fs::create_dir_all(&work)?;
    for src in [&MUSL, &LIBMNL, &LIBNFTNL] {
        let tarball = fetch(src)?;
        setup::run(
            Command::new("tar")
                .arg("xf")
                .arg(&tarball)
                .arg("-C")
                .arg(&work),
        )?;
    }
    // musl's headers only (no compilation), then the kernel headers of this architecture.
    let inc = sysroot.join("include");
    setup::run(
        Command::new("make")
            .current_dir(work.join(MUSL.dir))
            .arg(format!("ARCH={}", tc.musl_arch))
            .arg(format!("prefix={}", sysroot.display()))
            .arg(format!("includedir={}", inc.display()))
            .args(["-s", "install-headers"]),
    )?;
    for sub in ["linux", "asm", "asm-generic"] {
        let from = tc
            .kernel_headers
            .iter()
            .map(|d| Path::new(d).join(sub))
            .find(|p| p.is_dir())
            .with_context(|| {
                format!("kernel headers {sub}/ for {target} missing (apt: linux-libc-dev)")
            })?;
        setup::run(Command::new("cp").arg("-r").arg(&from).arg(&inc))?;
    }
    // crt objects and libc.a from Rust's self-contained sysroot: what rustc links.
    let lib = sysroot.join("lib");
    std::fs::create_dir_all(&lib)?;
    let self_contained = rust_self_contained(target)?;
    for entry in std::fs::read_dir(&self_contained)? {
        let entry = entry?;
        std::fs::copy(entry.path(), lib.join(entry.file_name()))?;
    }
    let specs = dir.join("musl.specs");
    std::fs::write(&specs, specs_file(&inc, &lib, tc.musl_arch))?;
    let cc = dir.join("bin/cc");
    std::fs::create_dir_all(dir.join("bin"))?;
    std::fs::write(
        &cc,
        format!(
            "#!/bin/sh\nexec {} -specs={} \"$@\"\n",
            tc.gcc,
            specs.display()
        ),
    )?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&cc, std::fs::Permissions::from_mode(0o755))?;
    for src in [&LIBMNL, &LIBNFTNL] {
        let at = work.join(src.dir);
        setup::run(
            Command::new("./configure")
                .current_dir(&at)
                .arg("--quiet")
                .arg(format!("--host={}-linux-musl", tc.musl_arch))
                .arg(format!("--prefix={}", prefix.display()))
                .args(["--enable-static", "--disable-shared", "--with-pic"])
                .arg(format!("CC={}", cc.display()))
                .arg(format!("AR={}", tc.ar))
                .arg(format!("RANLIB={}", tc.ranlib))
                .arg("CFLAGS=-Os -ffunction-sections -fdata-sections")
                .env("PKG_CONFIG_LIBDIR", prefix.join("lib/pkgconfig"))
                .env_remove("PKG_CONFIG_PATH"),
        )?;
        setup::run(Command::new("make").current_dir(&at).args(["-s", "-j2"]))?;
        setup::run(
            Command::new("make")
                .current_dir(&at)
                .args(["-s", "install"]),
        )?;
    }
    std::fs::remove_dir_all(&work)?;
    Ok(())
}

/// A gcc specs file that makes the distribution's gcc a musl compiler (as musl's own
/// `musl-gcc.specs`, but with Rust's crt objects and libc).
fn specs_file(inc: &Path, lib: &Path, arch: &str) -> String {
    let (inc, lib) = (inc.display(), lib.display());
    format!(
        "%rename cpp_options old_cpp_options\n\n\
         *cpp_options:\n-nostdinc -isystem {inc} -isystem include%s %(old_cpp_options)\n\n\
         *cc1:\n%(cc1_cpu) -nostdinc -isystem {inc} -isystem include%s\n\n\
         *link_libgcc:\n-L{lib} -L .%s\n\n\
         *libgcc:\nlibgcc.a%s %:if-exists(libgcc_eh.a%s)\n\n\
         *startfile:\n%{{!shared: {lib}/Scrt1.o}} {lib}/crti.o crtbeginS.o%s\n\n\
         *endfile:\ncrtendS.o%s {lib}/crtn.o\n\n\
         *link:\n-dynamic-linker /lib/ld-musl-{arch}.so.1 -nostdlib %{{shared:-shared}} \
         %{{static:-static}} %{{rdynamic:-export-dynamic}}\n\n"
    )
}

/// `<rust sysroot>/lib/rustlib/<target>/lib/self-contained`.
fn rust_self_contained(target: &str) -> Result<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .context("running rustc --print target-libdir")?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("self-contained");
    if !dir.join("libc.a").exists() {
        bail!(
            "{} has no libc.a (rustup target add {target})",
            dir.display()
        );
    }
    Ok(dir)
}

/// The tarball in `target/cross/src`, downloaded and checked once.
fn fetch(src: &Source) -> Result<PathBuf> {
    let dir = cross_dir().join("src");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(src.file);
    if path.exists() && sha256(&path)? == src.sha256 {
        return Ok(path);
    }
    let part = dir.join(format!("{}.part", src.file));
    for url in src.urls {
        println!("xtask: fetching {url}");
        let ok = Command::new("curl")
            .args(["-fsSL", "--retry", "2", "--connect-timeout", "15", "-o"])
            .arg(&part)
            .arg(url)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            continue;
        }
        let got = sha256(&part)?;
        if got != src.sha256 {
            eprintln!(
                "xtask: {url}: SHA-256 {got}, expected {}; ignored",
                src.sha256
            );
            continue;
        }
        std::fs::rename(&part, &path)?;
        return Ok(path);
    }
    bail!("could not fetch {} from any of {:?}", src.file, src.urls)
}

fn sha256(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .context("running sha256sum")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The environment to build `target` with cargo, after the set-up above.
pub fn env_for(target: &str) -> Result<Vec<(String, String)>> {
    ensure_rust_targets()?;
    ensure_c_deps(target)
}
