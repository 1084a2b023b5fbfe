#!/usr/bin/env python3
"""Generates a deterministic mixed-language source tree for scan benchmarks.

Usage: gen-tree.py OUT_DIR [SIZE_MB]   (default 200 MB)

Files look like ordinary application code in Python, JavaScript/TypeScript, Go,
Java, Ruby, PHP, C, C# and Rust: mostly plain statements, with a small share of
lines that security rules care about (SQL built from strings, shell commands,
route handlers, request parameters), so a scanner does real matching work.
"""
import os
import random
import sys

LANGS = {
    "py": (["def {f}({a}):", "    {v} = {a}.get('{k}')", "    return {v} + {n}",
            "    logger.info('processing %s', {v})", "    for {v} in range({n}):",
            "        total += {v} * {n}", "class {F}(object):", "    pass", "import {k}"],
           ["    cursor.execute(\"SELECT * FROM {k} WHERE id = \" + {v})",
            "    os.system('ls ' + {v})", "@app.route('/{k}')",
            "    {v} = request.args.get('{k}')", "    h = hashlib.md5({v}).hexdigest()"]),
    "js": (["function {f}({a}) {{", "  const {v} = {a}.{k};", "  return {v} + {n};", "}}",
            "  console.log('{k}', {v});", "  for (let i = 0; i < {n}; i++) {{ total += i; }}",
            "export const {F} = () => {n};", "import {{ {k} }} from './{k}';"],
           ["  db.query('SELECT * FROM {k} WHERE id = ' + req.query.{v});",
            "  exec('ls ' + {v});", "app.get('/{k}', (req, res) => {{", "  el.innerHTML = {v};",
            "  eval({v});"]),
    "ts": (["export function {f}({a}: string): number {{", "  const {v}: number = {n};",
            "  return {v} * {n};", "}}", "interface {F} {{ {k}: string; }}"],
           ["  res.redirect(req.query.{v});", "  fs.readFile(req.params.{v}, cb);"]),
    "go": (["func {F}({a} int) int {{", "\t{v} := {a} + {n}", "\treturn {v}", "}}",
            "\tif err != nil {{ return err }}", "\tfmt.Println({v})"],
           ["\trows, _ := db.Query(\"SELECT * FROM {k} WHERE id = \" + {v})",
            "\tcmd := exec.Command(\"sh\", \"-c\", {v})", "\thttp.HandleFunc(\"/{k}\", {f})",
            "\t{v} := r.URL.Query().Get(\"{k}\")"]),
    "java": (["public class {F} {{", "  private int {v} = {n};", "  public int {f}(int {a}) {{",
              "    return {a} + {v};", "  }}", "}}", "  // {k} helper"],
             ["    stmt.executeQuery(\"SELECT * FROM {k} WHERE id = \" + {v});",
              "    Runtime.getRuntime().exec({v});", "  @GetMapping(\"/{k}\")",
              "    String {v} = request.getParameter(\"{k}\");"]),
    "rb": (["def {f}({a})", "  {v} = {a} + {n}", "  {v}", "end", "class {F}", "end"],
           ["  User.where(\"name = '#{{params[:{k}]}}'\")", "  system(\"ls #{{{v}}}\")"]),
    "php": (["function {f}(${a}) {{", "  ${v} = ${a} + {n};", "  return ${v};", "}}"],
            ["  mysqli_query($conn, \"SELECT * FROM {k} WHERE id = \" . $_GET['{v}']);",
             "  system($_GET['{k}']);"]),
    "c": (["static int {f}(int {a}) {{", "  int {v} = {a} + {n};", "  return {v};", "}}",
           "#include <stdio.h>"],
          ["  strcpy(buf, {v});", "  sprintf(buf, \"%s\", {v});", "  system({v});"]),
    "cs": (["public class {F} {{", "  public int {f}(int {a}) {{ return {a} + {n}; }}", "}}"],
           ["    var cmd = new SqlCommand(\"SELECT * FROM {k} WHERE id = \" + {v}, conn);",
            "    Process.Start({v});"]),
    "rs": (["fn {f}({a}: u32) -> u32 {{", "    let {v} = {a} + {n};", "    {v}", "}}",
            "pub struct {F} {{ {k}: String }}"],
           ["    unsafe {{ std::ptr::read({v}) }}",
            "    let q = format!(\"SELECT * FROM {k} WHERE id = {{}}\", {v});"]),
}
WORDS = ["user", "order", "item", "cart", "account", "token", "session", "profile", "report",
         "invoice", "payment", "config", "cache", "queue", "event", "message", "record"]


def line(rng, tmpl):
    w = rng.choice(WORDS)
    return tmpl.format(f=w + "_" + rng.choice(WORDS), F=w.capitalize() + rng.choice(WORDS).capitalize(),
                       a=rng.choice(WORDS), v=rng.choice(WORDS) + str(rng.randrange(9)),
                       k=rng.choice(WORDS), n=rng.randrange(1000))


def main():
    out = sys.argv[1]
    size = int(float(sys.argv[2]) * 1_000_000) if len(sys.argv) > 2 else 200_000_000
    rng = random.Random(20261122)
    exts = list(LANGS)
    written = 0
    i = 0
    while written < size:
        ext = exts[i % len(exts)]
        plain, risky = LANGS[ext]
        d = os.path.join(out, f"svc{i % 40:02d}", f"mod{(i // 40) % 25:02d}")
        os.makedirs(d, exist_ok=True)
        target = rng.randrange(2_000, 24_000)
        lines = []
        n = 0
        while n < target:
            tmpl = rng.choice(risky) if rng.random() < 0.01 else rng.choice(plain)
            s = line(rng, tmpl)
            lines.append(s)
            n += len(s) + 1
        with open(os.path.join(d, f"file{i:06d}.{ext}"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        written += n
        i += 1
    print(f"{i} files, {written / 1e6:.1f} MB in {out}")


if __name__ == "__main__":
    main()
