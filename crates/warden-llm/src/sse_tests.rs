use super::*;

/// A recorded-shape Anthropic stream: text, then a tool call streamed as
/// `input_json_delta`, usage in `message_delta`, a ping comment and `\r\n`s.
pub(crate) const ANTHROPIC_STREAM: &str =
    include_str!("../tests/fixtures/anthropic_tool_stream.sse");

fn parse_split(input: &[u8], cuts: &[usize]) -> Result<Vec<SseEvent>, SseError> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        out.extend(p.feed(&input[start..cut])?);
        start = cut;
    }
    p.finish()?;
    Ok(out)
}

#[test]
fn recorded_stream_parses() {
    let events = parse_split(ANTHROPIC_STREAM.as_bytes(), &[]).unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for e in &events {
        serde_json::from_str::<serde_json::Value>(&e.data).unwrap();
    }
}

#[test]
fn every_split_point_gives_the_same_events() {
    let input = ANTHROPIC_STREAM.as_bytes();
    let whole = parse_split(input, &[]).unwrap();
    for cut in 0..=input.len() {
        assert_eq!(parse_split(input, &[cut]).unwrap(), whole, "cut at {cut}");
    }
    // Byte-at-a-time, too.
    let all: Vec<usize> = (1..input.len()).collect();
    assert_eq!(parse_split(input, &all).unwrap(), whole);
}

#[test]
fn multi_line_data_cr_only_and_fields() {
    let input = b"\xEF\xBB\xBFid: 7\rdata: a\rdata:b\r\rdata\n\nevent: x\nretry: 10\nfoo: bar\ndata:  c\n\n";
    let ev = parse_split(input, &[]).unwrap();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0].data, "a\nb");
    assert_eq!(ev[0].event, "message");
    assert_eq!(ev[0].id.as_deref(), Some("7"));
    assert_eq!(ev[1].data, "");
    assert_eq!(ev[2].event, "x");
    assert_eq!(ev[2].data, " c");
    // An event with no data is not dispatched.
    assert!(parse_split(b"event: lonely\n\n", &[]).unwrap().is_empty());
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    assert_eq!(
        parse_split(b"data: \xff\xfe\n\n", &[]),
        Err(SseError::InvalidUtf8 { line: 1 })
    );
    assert_eq!(
        parse_split(b"data: {\"half\":", &[]),
        Err(SseError::Truncated)
    );
    assert_eq!(parse_split(b"data: x\n", &[]), Err(SseError::Truncated));
    let mut p = SseParser::new();
    let big = vec![b'a'; MAX_LINE + 1];
    assert!(matches!(p.feed(&big), Err(SseError::LineTooLong { .. })));
    assert!(p.feed(b"\n\n").is_err(), "errors are sticky");
    // Arbitrary bytes never panic.
    let mut seed = 0x2545F4914F6CDD1Du64;
    for _ in 0..200 {
        let mut p = SseParser::new();
        let chunk: Vec<u8> = (0..64)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b"data: \r\n:\xc3\xa9\xff{}"[(seed % 14) as usize]
            })
            .collect();
        let _ = p.feed(&chunk);
        let _ = p.finish();
    }
}

/// Found by `fuzz/fuzz_targets/sse.rs`: an empty chunk between a chunk-final `\r` and
/// the `\n` completing that CRLF made the `\n` a second line end (a blank line, which
/// dispatches the event early and hid a truncated stream).
#[test]
fn an_empty_chunk_between_cr_and_lf_keeps_them_one_line_end() {
    let input = b"'%\r\n";
    assert_eq!(parse_split(input, &[]), Err(SseError::Truncated));
    assert_eq!(parse_split(input, &[2, 3, 3]), Err(SseError::Truncated));

    let input = b"data: a\r\ndata: b\r\n\r\n";
    let whole = parse_split(input, &[]).unwrap();
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].data, "a\nb");
    assert_eq!(parse_split(input, &[8, 8, 8, 9]).unwrap(), whole);
}
