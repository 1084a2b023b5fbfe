use super::*;

fn fed(lang: Language, src: &str, line: u32) -> bool {
    fed_lines(lang, src.as_bytes(), &[Sink { line, span: None }], false).contains(&line)
}

#[test]
fn a_parameter_reaching_a_sink_in_each_language_is_found() {
    let py = "class Repo:\n    def find(self, db, name):\n        q = \"SELECT * FROM t WHERE n = '\" + name + \"'\"\n        return db.execute(q)\n";
    assert!(fed(Language::Python, py, 4), "through a local");
    assert!(fed(Language::Python, py, 3), "directly");
    let go = "func (r *Repo) Find(ctx context.Context, name string) error {\n\tq := fmt.Sprintf(\"SELECT %s\", name)\n\t_, err := r.db.Exec(q)\n\treturn err\n}\n";
    assert!(fed(Language::Go, go, 3));
    let java = "public class Repo {\n  public List<User> find(@Param(\"n\") String name, int limit) {\n    String sql = \"SELECT * FROM u WHERE n = '\" + name + \"'\";\n    return jdbc.query(sql, mapper);\n  }\n}\n";
    assert!(fed(Language::Java, java, 4));
    let ts = "export class Files {\n  async read(fileName: string): Promise<Buffer> {\n    const full = path.join(this.root, fileName);\n    return fs.readFile(full);\n  }\n}\n";
    assert!(fed(Language::TypeScript, ts, 4));
    let php = "<?php\nfunction find($db, $name) {\n    return $db->query(\"SELECT * FROM t WHERE n = '$name'\");\n}\n";
    assert!(fed(Language::Php, php, 3));
    let rust = "pub async fn fetch(client: &Client, url: String) -> Result<String> {\n    let body = client.get(&url).send().await?;\n    Ok(body)\n}\n";
    assert!(fed(Language::Rust, rust, 2));
    let generic = "pub fn read_under<P: AsRef<Path>>(root: P, name: &str) -> io::Result<Vec<u8>> {\n    fs::read(root.as_ref().join(name))\n}\n";
    assert!(fed(Language::Rust, generic, 2), "a bound holding a generic");
    // An entry of a table looked up by the caller's key is the table's value.
    let lookup = "def fetch(partner):\n    feed = FEEDS[partner]\n    return urlopen(feed)\n";
    assert!(!fed(Language::Python, lookup, 3), "a table's entry");
    let keyed = "def fetch(params):\n    url = params[\"url\"]\n    return urlopen(url)\n";
    let context = "async def push(draw):\n    hook = draw.get(\"callback\")\n    async with httpx.AsyncClient(timeout=5) as client:\n        return await client.post(hook, json={})\n";
    assert!(
        fed(Language::Python, context, 4),
        "an `async with` block is no function of its own"
    );
    assert!(
        fed(Language::Python, keyed, 3),
        "an entry of the caller's own table"
    );
    let kotlin = "class Covers(private val http: HttpClient) {\n    suspend fun fetch(coverUrl: String): ByteArray =\n        http.get(coverUrl).body()\n}\n";
    assert!(fed(Language::Kotlin, kotlin, 3));
    let express = "router.get('/f', async (req, res) => {\n  const ids = rows.map(x => x.id);\n  res.send(ids);\n});\nexport const load = async (fileName) => {\n  const rows = names.map(n => n.trim());\n  return fs.readFile(path.join(ROOT, fileName));\n};\n";
    // `req` and `res` are only called on; `ids` comes from no parameter (the inline
    // `x => x.id` opens no function).
    assert!(!fed(Language::JavaScript, express, 3));
    assert!(
        fed(Language::JavaScript, express, 7),
        "an arrow function's parameter"
    );
    let ruby =
        "class Storage\n  def read(name)\n    File.read(File.join(ROOT, name))\n  end\nend\n";
    assert!(fed(Language::Ruby, ruby, 3));
    // Methods without a modifier: the list is read from their `(`, not past the `{`.
    let method = "export class Views {\n  renderCustom(src, data) {\n    return pug.render(src, data);\n  }\n}\n";
    assert!(fed(Language::TypeScript, method, 3), "a bare method");
    // A predicate handed to the sink's call: its own parameter and the enclosing
    // method's both count.
    let lambda = "public async Task<Invoice> Find(int invoiceId) {\n    return await _db.Invoices.FirstOrDefaultAsync(i => i.Id == invoiceId);\n}\n";
    assert!(
        fed(Language::CSharp, lambda, 2),
        "a lambda's enclosing method"
    );
    // A field of a parameter object handed to the sink is the caller's data; a
    // method called on a parameter (an injected client) is not.
    let field = "function finish(res, state) {\n  return res.redirect(state.returnTo);\n}\n";
    assert!(fed(Language::JavaScript, field, 2), "a parameter's field");
    let chain = "def run(db):\n    return db.conn.execute(\"SELECT 1\")\n";
    assert!(
        !fed(Language::Python, chain, 2),
        "a client's member called on"
    );
    let typed = "class Feeds {\n  String fetch(String feedUrl) {\n    return rest.getForObject(feedUrl, String.class);\n  }\n}\n";
    assert!(
        fed(Language::Java, typed, 3),
        "a method with a return type only"
    );
}

#[test]
fn constants_and_injected_clients_are_not_data() {
    // The sink is called on a parameter (an injected client) with constants only.
    let py = "def count(db):\n    return db.execute(\"SELECT count(*) FROM t\")\n";
    assert!(!fed(Language::Python, py, 2));
    // A keyword argument's name is no use of the parameter of that name.
    let py = "def run(timeout):\n    subprocess.run([\"ls\"], timeout=30)\n";
    assert!(!fed(Language::Python, py, 2));
    // A local not computed from any parameter.
    let go = "func Load(id string) error {\n\tq := \"SELECT 1\"\n\t_, err := db.Exec(q)\n\treturn err\n}\n";
    assert!(!fed(Language::Go, go, 3));
    // A header on the sink's own line: a one-line arrow function.
    let js =
        "app.get('/', (req, res) => res.redirect(next));\nconst go = (to) => res.redirect(to);\n";
    assert!(!fed(Language::JavaScript, js, 1));
    assert!(fed(Language::JavaScript, js, 2));
    // No function around the line at all (module level).
    assert!(!fed(Language::Python, "import os\nos.system(CMD)\n", 2));
    // A constructor parameter filled from configuration is no caller's data.
    let java = "public class Invoices {\n  public Invoices(@Value(\"${app.invoices}\") String dir, Store store) {\n    this.root = Path.of(dir);\n  }\n}\n";
    assert!(!fed(Language::Java, java, 3));
    let java = java.replace("@Value(\"${app.invoices}\") ", "");
    assert!(fed(Language::Java, &java, 3));
    // C is read by its own checks.
    assert!(!fed(Language::C, "void f(char *s) {\n  system(s);\n}\n", 2));
}

#[test]
fn only_the_matched_arguments_count_when_the_match_reaches_them() {
    let go = "func (c *Client) Deliver(ctx context.Context, event Event) error {\n\tbody, _ := json.Marshal(event)\n\treq, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))\n\treturn c.do(req)\n}\n";
    let line = go.lines().nth(2).expect("line 3");
    let offset = go.find(line).expect("offset");
    let start = offset + line.find("http.New").expect("call");
    let end = offset + line.find("endpoint,").expect("url") + "endpoint,".len();
    let sink = |span| {
        fed_lines(
            Language::Go,
            go.as_bytes(),
            &[Sink { line: 3, span }],
            false,
        )
    };
    let fed = vec![3];
    // The URL is a constant: the event only fills the body past the match.
    assert!(sink(Some(start..end)).is_empty());
    // Without the match, the whole statement is read, body included.
    assert_eq!(sink(None), fed);
    // A match that stops at the call's `(` says nothing of the arguments.
    let head = offset + line.find("(ctx").expect("paren") + 1;
    assert_eq!(sink(Some(start..head)), fed);
}

#[test]
fn functions_start_at_headers_and_block_arrows() {
    let php = "<?php\nclass Orders {\n    public function show($id) {\n        if ($x) {\n        }\n    }\n    public function destroy($id) {\n    }\n}\n";
    assert_eq!(function_starts(Language::Php, php.as_bytes()), vec![3, 7]);
    let ts = "router.get('/a', async (req, res) => {\n  const ids = xs.map(x => x.id);\n});\n";
    assert_eq!(
        function_starts(Language::TypeScript, ts.as_bytes()),
        vec![1]
    );
}

#[test]
fn statements_and_calls_are_not_headers() {
    let js = "function handler(req) {\n  if (isAdmin(user)) {\n    return db.query(sql);\n  }\n}\n";
    // `if (` is no function: the header is `handler(req)`, and `sql` is no parameter.
    assert!(!fed(Language::JavaScript, js, 3));
    assert_eq!(
        parameter_names(
            Language::Go,
            "ctx context.Context, a, b string, f func(x int) error"
        ),
        vec!["a", "b", "f"]
    );
    assert_eq!(
        parameter_names(
            Language::Java,
            "@RequestParam(\"q\") final String query, Map<String, Object> opts"
        ),
        vec!["query", "opts"]
    );
    assert_eq!(
        parameter_names(
            Language::TypeScript,
            "id: string, opts?: { deep: boolean } = {}"
        ),
        vec!["id", "opts"]
    );
}

#[test]
fn functions_are_named_by_the_word_before_their_parameters() {
    let names = |lang, src: &str| -> Vec<String> {
        functions(lang, src.as_bytes())
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    };
    assert_eq!(
        names(
            Language::Go,
            "func (s *Store) Locate(name string) string {\n}\nfunc writeEntry(t string) error {\n}\n"
        ),
        vec!["Locate", "writeEntry"]
    );
    assert_eq!(
        names(
            Language::Rust,
            "pub fn open_in<P: AsRef<Path>>(base: P) -> File {\n}\n"
        ),
        vec!["open_in"]
    );
    assert_eq!(
        names(
            Language::TypeScript,
            "export const loadTicket = async (id: string) => {\n};\n"
        ),
        vec!["loadTicket"]
    );
    let lines: Vec<u32> = functions(
        Language::Python,
        b"x = 1\ndef read(self, name):\n    pass\n",
    )
    .into_iter()
    .map(|(l, _)| l)
    .collect();
    assert_eq!(lines, vec![2]);
}

#[test]
fn a_match_ending_inside_a_name_reads_the_whole_name() {
    // `URI\.create\(\s*[a-zA-Z_]` stops after the `s` of `source`.
    let kt = "class Tiles(private val client: HttpClient) {\n    fun fetchTile(source: String): ByteArray {\n        val request = HttpRequest.newBuilder(URI.create(source))\n";
    let start = kt.find("URI.create(").unwrap();
    let span = start..start + "URI.create(s".len();
    let sink = Sink {
        line: 3,
        span: Some(span),
    };
    assert_eq!(
        fed_lines(Language::Kotlin, kt.as_bytes(), &[sink], false),
        vec![3]
    );
    assert_eq!(word_end(b"f(src) + 1", 3), 5);
    assert_eq!(word_end(b"f( src) + 1", 5), 6);
    assert_eq!(
        word_end(b"f(src) + 1", 6),
        6,
        "a match ending past the name"
    );
    assert_eq!(
        word_end(b"f(\"/a/\" + cmd)", 11),
        11,
        "a name after an operator"
    );
}

#[test]
fn a_local_built_over_several_lines_from_a_parameter_is_followed() {
    let py = "def register(owner, payload):\n    probe = Probe(\n        owner_id=owner,\n        hook=payload.get(\"url\"),\n    )\n    resp = httpx.get(probe.hook, timeout=5)\n";
    assert!(fed(Language::Python, py, 6));
    let closed = "def register(owner, payload):\n    probe = Probe(owner_id=1)\n    note = payload\n    resp = httpx.get(probe.hook, timeout=5)\n";
    assert!(
        !fed(Language::Python, closed, 4),
        "the next line is not the value"
    );
}
