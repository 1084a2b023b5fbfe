//! What the analysis needs to know about each grammar: which node kinds are
//! functions, calls, assignments, strings, conditions, and where their parts are.
//!
//! The flow analysis itself is the same for every language; a language is a table.

use crate::Language;

/// An assignment-like node: `left` gets `right` (or `right` is added to it).
pub(crate) struct Assign {
    pub kind: &'static str,
    pub left: &'static str,
    pub right: &'static str,
    /// `+=`, `.=`: the target keeps what it had. `None`: read the `operator` field.
    pub augmented: Option<bool>,
}

/// A loop binding `var` to each element of `iter`.
pub(crate) struct Loop {
    pub kind: &'static str,
    pub var: &'static str,
    pub iter: &'static str,
}

/// The node kinds of one grammar.
pub(crate) struct Syntax {
    pub grammar: fn() -> tree_sitter::Language,
    /// Functions, methods and lambdas: each is analysed on its own, seeing its
    /// enclosing scope's variables as they stand at the end of that scope.
    pub functions: &'static [&'static str],
    /// Calls, method calls and constructor calls.
    pub calls: &'static [&'static str],
    /// Kinds wrapping one argument (PHP `argument`): read through to the expression.
    pub arg_wrappers: &'static [&'static str],
    /// Keyword arguments: `name` and `value` fields.
    pub keyword_args: &'static [&'static str],
    pub assigns: &'static [Assign],
    /// Variables: their text is the key in the environment.
    pub idents: &'static [&'static str],
    /// `a.b`, `a[b]`, `a->b`: the value of the object (their first named child).
    pub members: &'static [&'static str],
    /// String literals; a named child that is not a plain part is an interpolation.
    pub strings: &'static [&'static str],
    /// Plain parts of strings (everything else inside a string is interpolated).
    pub string_parts: &'static [&'static str],
    /// Binary operators: string building when the operator is in `concat_ops`.
    pub binaries: &'static [&'static str],
    pub concat_ops: &'static [&'static str],
    /// Operators whose result is a boolean or a number, never the operands' text.
    pub boolean_ops: &'static [&'static str],
    /// Kinds whose value is never text an attacker controls (comparisons, `not`, literals).
    pub opaque: &'static [&'static str],
    /// `if`/`while`/guards: their `condition` field may sanitise what it names.
    pub conditions: &'static [&'static str],
    pub loops: &'static [Loop],
    /// Kinds inside which an assignment may not run (a branch, a loop body):
    /// it adds to the variable rather than replacing it.
    pub branches: &'static [&'static str],
    /// Methods that fold their arguments into their receiver (`sb.append(x)`).
    pub mutators: &'static [&'static str],
    /// Calls whose result is a string built from their receiver and arguments.
    pub formatters: &'static [&'static str],
    /// Calls returning (a wrapper of) their first argument, for aliases:
    /// `promisify(exec)`, `functools.partial(run, ...)`.
    pub wrappers: &'static [&'static str],
    /// Methods whose result is data read from a database, a file or the network,
    /// whatever their arguments (`Subscription.find({ active: true })`): never a
    /// constant, even on a required module with constant arguments.
    pub reads: &'static [&'static str],
    /// Comments: skipped.
    pub comments: &'static [&'static str],
}

impl Syntax {
    pub fn is(&self, list: &[&str], kind: &str) -> bool {
        list.contains(&kind)
    }
}

const COMMON_MUTATORS: &[&str] = &[
    "append",
    "extend",
    "push",
    "add",
    "addAll",
    "insert",
    "unshift",
    "concat",
    "write",
    "WriteString",
    "Write",
    "Append",
    "AppendFormat",
    "AppendLine",
    "put",
    "update",
    "setdefault",
    "array_push",
];

const COMMON_FORMATTERS: &[&str] = &[
    "format",
    "join",
    "Sprintf",
    "sprintf",
    "vsprintf",
    "Format",
    "formatted",
    "concat",
    "replace",
    "implode",
    "Join",
    "toString",
    "String",
];

/// The table for `lang`, if structural analysis covers it.
pub(crate) fn syntax(lang: Language) -> Option<&'static Syntax> {
    match lang {
        Language::Python => Some(&PYTHON),
        Language::JavaScript => Some(&JAVASCRIPT),
        Language::TypeScript => Some(&TYPESCRIPT),
        Language::Go => Some(&GO),
        Language::Java => Some(&JAVA),
        Language::Php => Some(&PHP),
        _ => None,
    }
}

static PYTHON: Syntax = Syntax {
    grammar: || tree_sitter_python::LANGUAGE.into(),
    functions: &["function_definition", "lambda"],
    calls: &["call"],
    arg_wrappers: &[],
    keyword_args: &["keyword_argument"],
    assigns: &[
        Assign {
            kind: "assignment",
            left: "left",
            right: "right",
            augmented: Some(false),
        },
        Assign {
            kind: "augmented_assignment",
            left: "left",
            right: "right",
            augmented: Some(true),
        },
        Assign {
            kind: "named_expression",
            left: "name",
            right: "value",
            augmented: Some(false),
        },
    ],
    idents: &["identifier"],
    members: &["attribute", "subscript"],
    strings: &["string", "concatenated_string"],
    string_parts: &[
        "string_start",
        "string_content",
        "string_end",
        "escape_sequence",
    ],
    binaries: &["binary_operator"],
    concat_ops: &["+", "%"],
    boolean_ops: &[],
    opaque: &[
        "comparison_operator",
        "not_operator",
        "integer",
        "float",
        "true",
        "false",
        "none",
        "comment",
    ],
    conditions: &[
        "if_statement",
        "elif_clause",
        "while_statement",
        "assert_statement",
    ],
    loops: &[
        Loop {
            kind: "for_statement",
            var: "left",
            iter: "right",
        },
        Loop {
            kind: "for_in_clause",
            var: "left",
            iter: "right",
        },
    ],
    branches: &[
        "if_statement",
        "elif_clause",
        "else_clause",
        "for_statement",
        "while_statement",
        "except_clause",
        "match_statement",
    ],
    mutators: COMMON_MUTATORS,
    formatters: COMMON_FORMATTERS,
    wrappers: &["functools.partial", "partial"],
    reads: &[],
    comments: &["comment"],
};

const JS_FUNCTIONS: &[&str] = &[
    "function_declaration",
    "function_expression",
    "function",
    "arrow_function",
    "method_definition",
    "generator_function_declaration",
    "generator_function",
];
const JS_ASSIGNS: &[Assign] = &[
    Assign {
        kind: "variable_declarator",
        left: "name",
        right: "value",
        augmented: Some(false),
    },
    Assign {
        kind: "assignment_expression",
        left: "left",
        right: "right",
        augmented: Some(false),
    },
    Assign {
        kind: "augmented_assignment_expression",
        left: "left",
        right: "right",
        augmented: Some(true),
    },
];
const JS_OPAQUE: &[&str] = &[
    "number",
    "true",
    "false",
    "null",
    "undefined",
    "regex",
    "comment",
    "unary_expression",
    "type_annotation",
    "type_arguments",
];
const JS_LOOPS: &[Loop] = &[Loop {
    kind: "for_in_statement",
    var: "left",
    iter: "right",
}];
const JS_BRANCHES: &[&str] = &[
    "if_statement",
    "else_clause",
    "for_statement",
    "for_in_statement",
    "while_statement",
    "switch_case",
    "catch_clause",
    "ternary_expression",
];
const JS_COMPARE: &[&str] = &[
    "==",
    "===",
    "!=",
    "!==",
    "<",
    ">",
    "<=",
    ">=",
    "instanceof",
    "in",
    "-",
    "*",
    "/",
];

/// Mongoose, Sequelize, Prisma, TypeORM, knex and driver reads; fetch and fs reads.
const JS_READS: &[&str] = &[
    "find",
    "findOne",
    "findAll",
    "findMany",
    "findFirst",
    "findUnique",
    "findByPk",
    "findById",
    "findAndCountAll",
    "findOneBy",
    "findBy",
    "aggregate",
    "distinct",
    "lean",
    "toArray",
    "query",
    "fetch",
    "readFile",
    "readFileSync",
];

static JAVASCRIPT: Syntax = Syntax {
    grammar: || tree_sitter_javascript::LANGUAGE.into(),
    functions: JS_FUNCTIONS,
    calls: &["call_expression", "new_expression"],
    arg_wrappers: &[],
    keyword_args: &[],
    assigns: JS_ASSIGNS,
    idents: &[
        "identifier",
        "shorthand_property_identifier_pattern",
        "shorthand_property_identifier",
    ],
    members: &["member_expression", "subscript_expression"],
    strings: &["string", "template_string"],
    string_parts: &["string_fragment", "escape_sequence"],
    binaries: &["binary_expression"],
    concat_ops: &["+"],
    boolean_ops: JS_COMPARE,
    opaque: JS_OPAQUE,
    conditions: &["if_statement", "while_statement"],
    loops: JS_LOOPS,
    branches: JS_BRANCHES,
    mutators: COMMON_MUTATORS,
    formatters: COMMON_FORMATTERS,
    wrappers: &["util.promisify", "promisify", "bind"],
    reads: JS_READS,
    comments: &["comment"],
};

static TYPESCRIPT: Syntax = Syntax {
    grammar: || tree_sitter_typescript::LANGUAGE_TSX.into(),
    ..JAVASCRIPT
};

static GO: Syntax = Syntax {
    grammar: || tree_sitter_go::LANGUAGE.into(),
    functions: &["function_declaration", "method_declaration", "func_literal"],
    calls: &["call_expression"],
    arg_wrappers: &[],
    keyword_args: &[],
    assigns: &[
        Assign {
            kind: "short_var_declaration",
            left: "left",
            right: "right",
            augmented: Some(false),
        },
        Assign {
            kind: "assignment_statement",
            left: "left",
            right: "right",
            augmented: None,
        },
        Assign {
            kind: "var_spec",
            left: "name",
            right: "value",
            augmented: Some(false),
        },
        Assign {
            kind: "const_spec",
            left: "name",
            right: "value",
            augmented: Some(false),
        },
    ],
    idents: &["identifier"],
    members: &[
        "selector_expression",
        "index_expression",
        "slice_expression",
    ],
    strings: &["interpreted_string_literal", "raw_string_literal"],
    string_parts: &[
        "interpreted_string_literal_content",
        "raw_string_literal_content",
        "escape_sequence",
    ],
    binaries: &["binary_expression"],
    concat_ops: &["+"],
    boolean_ops: &["==", "!=", "<", ">", "<=", ">=", "&&", "||", "-", "*", "/"],
    opaque: &[
        "int_literal",
        "float_literal",
        "true",
        "false",
        "nil",
        "comment",
        "type_identifier",
    ],
    conditions: &["if_statement"],
    loops: &[Loop {
        kind: "range_clause",
        var: "left",
        iter: "right",
    }],
    branches: &[
        "if_statement",
        "for_statement",
        "expression_case",
        "type_case",
        "default_case",
        "communication_case",
    ],
    mutators: COMMON_MUTATORS,
    formatters: COMMON_FORMATTERS,
    wrappers: &[],
    reads: &[],
    comments: &["comment"],
};

static JAVA: Syntax = Syntax {
    grammar: || tree_sitter_java::LANGUAGE.into(),
    functions: &[
        "method_declaration",
        "constructor_declaration",
        "lambda_expression",
    ],
    calls: &["method_invocation", "object_creation_expression"],
    arg_wrappers: &[],
    keyword_args: &[],
    assigns: &[
        Assign {
            kind: "variable_declarator",
            left: "name",
            right: "value",
            augmented: Some(false),
        },
        Assign {
            kind: "assignment_expression",
            left: "left",
            right: "right",
            augmented: None,
        },
    ],
    idents: &["identifier"],
    members: &["field_access", "array_access"],
    strings: &["string_literal"],
    string_parts: &[
        "string_fragment",
        "escape_sequence",
        "multiline_string_fragment",
    ],
    binaries: &["binary_expression"],
    concat_ops: &["+"],
    boolean_ops: &[
        "==",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "&&",
        "||",
        "-",
        "*",
        "/",
        "instanceof",
    ],
    opaque: &[
        "decimal_integer_literal",
        "hex_integer_literal",
        "decimal_floating_point_literal",
        "true",
        "false",
        "null_literal",
        "line_comment",
        "block_comment",
        "class_literal",
        "unary_expression",
    ],
    conditions: &["if_statement", "while_statement"],
    loops: &[Loop {
        kind: "enhanced_for_statement",
        var: "name",
        iter: "value",
    }],
    branches: &[
        "if_statement",
        "for_statement",
        "enhanced_for_statement",
        "while_statement",
        "switch_block_statement_group",
        "catch_clause",
        "ternary_expression",
    ],
    mutators: COMMON_MUTATORS,
    formatters: COMMON_FORMATTERS,
    wrappers: &[],
    reads: &[],
    comments: &["line_comment", "block_comment"],
};

static PHP: Syntax = Syntax {
    grammar: || tree_sitter_php::LANGUAGE_PHP.into(),
    functions: &[
        "function_definition",
        "method_declaration",
        "anonymous_function",
        "arrow_function",
    ],
    calls: &[
        "function_call_expression",
        "member_call_expression",
        "nullsafe_member_call_expression",
        "scoped_call_expression",
        "object_creation_expression",
    ],
    arg_wrappers: &["argument"],
    keyword_args: &[],
    assigns: &[
        Assign {
            kind: "assignment_expression",
            left: "left",
            right: "right",
            augmented: Some(false),
        },
        Assign {
            kind: "augmented_assignment_expression",
            left: "left",
            right: "right",
            augmented: Some(true),
        },
    ],
    idents: &["variable_name"],
    members: &[
        "member_access_expression",
        "nullsafe_member_access_expression",
        "subscript_expression",
    ],
    strings: &["string", "encapsed_string", "heredoc", "nowdoc"],
    string_parts: &[
        "string_content",
        "escape_sequence",
        "heredoc_start",
        "heredoc_end",
        "heredoc_body",
        "nowdoc_body",
        "string_value",
    ],
    binaries: &["binary_expression"],
    concat_ops: &["."],
    boolean_ops: &[
        "==",
        "===",
        "!=",
        "!==",
        "<",
        ">",
        "<=",
        ">=",
        "&&",
        "||",
        "and",
        "or",
        "-",
        "*",
        "/",
        "instanceof",
    ],
    opaque: &[
        "integer",
        "float",
        "boolean",
        "null",
        "comment",
        "unary_op_expression",
    ],
    conditions: &["if_statement", "while_statement", "else_if_clause"],
    loops: &[],
    branches: &[
        "if_statement",
        "else_clause",
        "else_if_clause",
        "for_statement",
        "foreach_statement",
        "while_statement",
        "switch_block",
        "catch_clause",
    ],
    mutators: COMMON_MUTATORS,
    formatters: COMMON_FORMATTERS,
    wrappers: &[],
    reads: &[],
    comments: &["comment"],
};
