//! The SSE parser on arbitrary bytes, fed in arbitrary chunks: never a panic, and
//! chunking never changes what it parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_llm::sse::SseParser;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (bytes, cuts) = input;
    let mut whole = SseParser::new();
    let expected = whole.feed(&bytes).map(|events| (events, whole.finish()));

    let mut chunked = SseParser::new();
    let mut events = Vec::new();
    let mut rest: &[u8] = &bytes;
    let mut failure = None;
    for cut in cuts {
        if rest.is_empty() {
            break;
        }
        let at = usize::from(cut) % (rest.len() + 1);
        let (head, tail) = rest.split_at(at);
        match chunked.feed(head) {
            Ok(more) => events.extend(more),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        rest = tail;
    }
    let got = match failure {
        Some(e) => Err(e),
        None => chunked.feed(rest).map(|more| {
            events.extend(more);
            (events, chunked.finish())
        }),
    };
    // Errors carry line numbers that may differ by where the cut fell; agree on success.
    if let (Ok(a), Ok(b)) = (&expected, &got) {
        assert_eq!(a, b, "chunking changed the parse");
    }
    assert_eq!(expected.is_ok(), got.is_ok(), "chunking changed success");
});
