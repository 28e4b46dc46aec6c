#![allow(clippy::unwrap_used, clippy::print_stdout)]
use hookledger_policy::dlp::{redact, scan};
#[test]
fn probe() {
    let text = std::fs::read_to_string("/tmp/L_probe.txt").unwrap();
    for case in text.split("\n%%\n") {
        let case = case.replace("\\n", "\n");
        let f = scan(&case);
        let kinds: Vec<&str> = f.iter().map(|f| f.kind.code()).collect();
        println!(
            "{:?}\n   => {:?}\n   => {:?}",
            case,
            kinds,
            redact(&case, &f)
        );
    }
}
