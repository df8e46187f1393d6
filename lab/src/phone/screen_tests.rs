use super::*;

/// Decodes a PNG to RGB rows with the `png` crate, as a screenshot consumer would.
fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn rgb(screen: &Screen) -> Vec<u8> {
    let (w, h, px) = decode(&render_png(screen).expect("render"));
    assert_eq!((w, h), (screen.width, screen.height));
    px
}

/// Pixels (x, y) at which two renders of a `width`-wide screen differ.
fn diff(width: u32, a: &[u8], b: &[u8]) -> Vec<(u32, u32)> {
    assert_eq!(a.len(), b.len());
    let w = width as usize;
    (0..a.len() / 3)
        .filter(|i| a[i * 3..i * 3 + 3] != b[i * 3..i * 3 + 3])
        .map(|i| ((i % w) as u32, (i / w) as u32))
        .collect()
}

fn inside(r: Rect, (x, y): (u32, u32)) -> bool {
    x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h
}

const FIELD: Rect = Rect {
    x: 24,
    y: 1440,
    w: 540,
    h: 96,
};
const SEND: Rect = Rect {
    x: 580,
    y: 1440,
    w: 116,
    h: 96,
};

fn phone() -> Screen {
    Screen {
        width: 720,
        height: 1600,
        status_bar: "12:04  Wi-Fi matador-a  10.77.1.23".into(),
        title: "Signal".into(),
        messages: vec![
            ScreenMessage {
                outgoing: false,
                text: "Hi, are you in the lab?".into(),
                detail: "12:01".into(),
            },
            ScreenMessage {
                outgoing: true,
                text: "Yes, measuring the path through the router right now.".into(),
                detail: "12:02 \u{2713}\u{2713}".into(),
            },
        ],
        draft: "see you".into(),
        last_action: "tap 650,1500 -> send".into(),
        text_field: Some(FIELD),
        send_button: Some(SEND),
        focused_field: true,
    }
}

#[test]
fn decodes_to_the_requested_size() {
    for (w, h) in [(720, 1600), (1080, 2400), (360, 640), (1, 1), (50, 30)] {
        let mut s = phone();
        (s.width, s.height) = (w, h);
        let png = render_png(&s).expect("render");
        assert_eq!(png_dimensions(&png), Some((w, h)));
        let (dw, dh, px) = decode(&png);
        assert_eq!((dw, dh, px.len()), (w, h, (w * h * 3) as usize));
    }
}

#[test]
fn rejects_sizes_no_phone_has() {
    for (w, h) in [(0, 1600), (720, 0), (MAX_SIDE + 1, 10), (8000, 8000)] {
        let s = Screen {
            width: w,
            height: h,
            ..phone()
        };
        assert_eq!(
            render_png(&s),
            Err(ScreenError::Size {
                width: w,
                height: h
            })
        );
    }
}

#[test]
fn png_dimensions_reads_only_real_headers() {
    let png = render_png(&phone()).unwrap();
    assert_eq!(png_dimensions(&png), Some((720, 1600)));
    assert_eq!(png_dimensions(&png[..23]), None);
    assert_eq!(png_dimensions(b"GIF89a not a png at all, really"), None);
    let mut broken = png.clone();
    broken[12..16].copy_from_slice(b"IDAT");
    assert_eq!(png_dimensions(&broken), None);
}

#[test]
fn title_change_shows_in_the_title_bar_only() {
    let a = rgb(&phone());
    let b = rgb(&Screen {
        title: "Airplane mode".into(),
        ..phone()
    });
    let changed = diff(720, &a, &b);
    assert!(!changed.is_empty());
    // Title bar: below the 48 px status bar, 112 px tall at 2 px per dp.
    let bar = Rect {
        x: 0,
        y: 48,
        w: 720,
        h: 112,
    };
    assert!(
        changed.iter().all(|&p| inside(bar, p)),
        "title leaked outside its bar"
    );
}

#[test]
fn status_and_footer_text_show_in_their_strips() {
    let a = rgb(&phone());
    let b = rgb(&Screen {
        status_bar: "12:05  no network".into(),
        ..phone()
    });
    assert!(diff(720, &a, &b).iter().all(|&(_, y)| y < 48));
    let c = rgb(&Screen {
        last_action: "swipe up".into(),
        ..phone()
    });
    let changed = diff(720, &a, &c);
    assert!(!changed.is_empty());
    assert!(changed.iter().all(|&(_, y)| y >= 1550));
}

#[test]
fn a_new_message_appears_at_the_bottom_of_the_conversation() {
    let a = rgb(&phone());
    let mut s = phone();
    s.messages.push(ScreenMessage {
        outgoing: false,
        text: "ok".into(),
        detail: "12:05".into(),
    });
    let changed = diff(720, &a, &rgb(&s));
    assert!(!changed.is_empty());
    // Older bubbles move up, so changes span the area, but all of it between title bar and field.
    assert!(changed.iter().all(|&(_, y)| (160..FIELD.y).contains(&y)));
    // The newest bubble sits just above the field.
    assert!(changed.iter().any(|&(_, y)| y > FIELD.y - 60));
}

#[test]
fn outgoing_bubbles_are_right_aligned_and_incoming_left() {
    let base = Screen {
        messages: vec![],
        ..phone()
    };
    let empty = rgb(&base);
    for (outgoing, left_half) in [(true, false), (false, true)] {
        let msg = ScreenMessage {
            outgoing,
            text: "short".into(),
            detail: String::new(),
        };
        let s = Screen {
            messages: vec![msg],
            ..base.clone()
        };
        let changed = diff(720, &empty, &rgb(&s));
        assert!(!changed.is_empty());
        assert!(
            changed.iter().all(|&(x, _)| (x < 360) == left_half),
            "outgoing={outgoing}"
        );
    }
}

#[test]
fn old_messages_scroll_off_the_top() {
    let many: Vec<_> = (0..60)
        .map(|i| ScreenMessage {
            outgoing: i % 2 == 0,
            text: format!("message number {i}"),
            detail: "12:00".into(),
        })
        .collect();
    let s = Screen {
        messages: many,
        ..phone()
    };
    let a = rgb(&s);
    let mut oldest = s.clone();
    oldest.messages[0].text = "CHANGED".into();
    assert!(
        diff(720, &a, &rgb(&oldest)).is_empty(),
        "oldest message should be off screen"
    );
    let mut newest = s.clone();
    newest.messages[59].text = "CHANGED".into();
    assert!(
        !diff(720, &a, &rgb(&newest)).is_empty(),
        "newest message should be visible"
    );
    // Bubbles scrolled up slide under the title bar rather than over it.
    let none = rgb(&Screen {
        messages: vec![],
        ..s.clone()
    });
    let changed = diff(720, &none, &a);
    assert!(
        changed.iter().any(|&(_, y)| y < 170),
        "conversation should reach the title bar"
    );
    assert!(
        changed.iter().all(|&(_, y)| y >= 160),
        "a bubble was drawn over the title bar"
    );
}

#[test]
fn draft_shows_inside_the_text_field() {
    let empty = rgb(&Screen {
        draft: String::new(),
        ..phone()
    });
    let typed = rgb(&phone());
    let changed = diff(720, &empty, &typed);
    assert!(!changed.is_empty());
    assert!(changed.iter().all(|&p| inside(FIELD, p)));
    let other = rgb(&Screen {
        draft: "see you later".into(),
        ..phone()
    });
    assert!(!diff(720, &typed, &other).is_empty());
}

#[test]
fn focus_and_controls_are_drawn_where_the_app_put_them() {
    let a = rgb(&phone());
    let unfocused = diff(
        720,
        &a,
        &rgb(&Screen {
            focused_field: false,
            ..phone()
        }),
    );
    assert!(!unfocused.is_empty());
    assert!(unfocused.iter().all(|&p| inside(FIELD, p)));
    let no_send = diff(
        720,
        &a,
        &rgb(&Screen {
            send_button: None,
            ..phone()
        }),
    );
    assert!(!no_send.is_empty());
    assert!(no_send.iter().all(|&p| inside(SEND, p)));
}

#[test]
fn untrusted_characters_are_drawn_as_question_marks() {
    let plain = rgb(&Screen {
        title: "caf? ?? ?".into(),
        ..phone()
    });
    let hostile = rgb(&Screen {
        title: "caf\u{e9} \u{1F600}\u{1F4A9} \u{7}".into(),
        ..phone()
    });
    assert!(diff(720, &plain, &hostile).is_empty());
    let real = rgb(&Screen {
        title: "cafe ok x".into(),
        ..phone()
    });
    assert!(!diff(720, &plain, &real).is_empty());
}

#[test]
fn hostile_input_stays_bounded_and_valid() {
    let huge = "A\u{0}\u{1b}[2J\u{202e}\u{1F600}word ".repeat(200_000);
    let s = Screen {
        status_bar: huge.clone(),
        title: huge.clone(),
        // Many messages, and the newest few each megabytes long.
        messages: (0..10_003)
            .map(|i| {
                let text = if i >= 10_000 {
                    huge.clone()
                } else {
                    "\u{1F600}\n".repeat(i % 50)
                };
                ScreenMessage {
                    outgoing: i % 3 == 0,
                    text,
                    detail: huge.chars().take(i % 80).collect(),
                }
            })
            .collect(),
        draft: huge.clone(),
        last_action: huge,
        text_field: Some(Rect {
            x: u32::MAX - 5,
            y: u32::MAX,
            w: u32::MAX,
            h: u32::MAX,
        }),
        send_button: Some(Rect {
            x: 0,
            y: 0,
            w: 0,
            h: 0,
        }),
        ..phone()
    };
    let start = std::time::Instant::now();
    let png = render_png(&s).expect("render");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(decode(&png).0, 720);
    assert_eq!(png_dimensions(&png), Some((720, 1600)));
}

#[test]
fn tiny_and_odd_layouts_do_not_panic() {
    let field = Some(Rect {
        x: 0,
        y: 0,
        w: 1,
        h: 1,
    });
    for (w, h) in [(1, 1), (7, 3), (40, 2000), (4000, 40)] {
        let s = Screen {
            width: w,
            height: h,
            text_field: field,
            send_button: field,
            ..phone()
        };
        assert_eq!(png_dimensions(&render_png(&s).unwrap()), Some((w, h)));
    }
}

#[test]
fn png_stays_small() {
    let png = render_png(&phone()).unwrap();
    assert!(png.len() < 64 * 1024, "{} bytes", png.len());
}

#[test]
fn wrap_breaks_at_spaces_and_splits_long_words() {
    assert_eq!(
        wrap(b"hello big world", 9),
        vec![&b"hello big"[..], b"world"]
    );
    assert_eq!(wrap(b"abcdefghij", 4), vec![&b"abcd"[..], b"efgh", b"ij"]);
    assert_eq!(wrap(b"", 4), vec![&b""[..]]);
    assert_eq!(wrap(b"ab   ", 2), vec![&b"ab"[..]]);
    assert_eq!(sanitize("abcdefgh", 5), b"ab...");
    assert_eq!(sanitize("abc", 5), b"abc");
    assert_eq!(sanitize_tail("abcdefgh", 3), b"fgh");
}

/// Writes the example screenshot where `MATADOR_SCREEN_PNG` says, for a person to look at.
#[test]
fn example_screenshot() {
    let png = render_png(&phone()).unwrap();
    if let Some(path) = std::env::var_os("MATADOR_SCREEN_PNG") {
        std::fs::write(path, &png).expect("write example png");
    }
}

/// Writes odd screens where `MATADOR_SCREEN_ODD` says (a directory), for a person to look at.
#[test]
fn odd_screenshots() {
    let Some(dir) = std::env::var_os("MATADOR_SCREEN_ODD") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let hostile = "caf\u{e9} \u{1F600} \u{7}\u{1b}[2J ".repeat(40) + &"x".repeat(500);
    let mut s = phone();
    s.title = hostile.clone();
    s.status_bar = hostile.clone();
    s.draft = hostile.clone();
    s.last_action = hostile.clone();
    s.messages.push(ScreenMessage {
        outgoing: false,
        text: hostile.repeat(5),
        detail: hostile.clone(),
    });
    std::fs::write(dir.join("hostile.png"), render_png(&s).unwrap()).unwrap();
    let home = Screen {
        title: "Airplane mode".into(),
        messages: vec![],
        draft: String::new(),
        text_field: None,
        send_button: None,
        focused_field: false,
        ..phone()
    };
    std::fs::write(dir.join("home.png"), render_png(&home).unwrap()).unwrap();
    let wide = Screen {
        width: 1080,
        height: 2400,
        draft: String::new(),
        focused_field: false,
        text_field: Some(Rect {
            x: 36,
            y: 2160,
            w: 780,
            h: 144,
        }),
        send_button: Some(Rect {
            x: 840,
            y: 2160,
            w: 204,
            h: 144,
        }),
        ..phone()
    };
    std::fs::write(dir.join("wide.png"), render_png(&wide).unwrap()).unwrap();
}
