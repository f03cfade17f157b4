use super::raw::*;
use super::*;
use borne_model::review::Satisfaction;

fn parse_text(text: &str) -> Result<Config, ConfigError> {
    parse(text, ConfigSource::File("test.toml".into()))
}

#[test]
fn an_spi_panel_is_checked_against_its_controller_and_the_other_pins() {
    assert_eq!(Config::embedded().panel, None, "no SPI panel unless asked");
    let panel = |extra: &str| parse_text(&format!("[hardware]\nbuttons = [5, 6, 13]\n[panel]\n{extra}"));
    let cfg = panel("model = \"ili9341\"\ntouch = \"xpt2046\"\ntouch_irq_pin = 17\n").unwrap();
    let p = cfg.panel.expect("a panel");
    assert_eq!((p.model, p.width, p.height, p.rotation, p.dc_pin), (PanelModel::Ili9341, 320, 240, 90, 24));
    let touch = p.touch.expect("touch");
    assert_eq!((touch.chip_select, touch.irq_pin), (1, Some(17)));
    assert_eq!(p.spi_speed_hz, 32_000_000);
    // A 480×320 picture fits an ILI9486, not an ILI9341.
    assert!(panel("model = \"ili9486\"\nwidth = 480\nheight = 320\n").is_ok());
    let cases = [
        ("model = \"ssd1306\"\n", "panel.model"),
        ("model = \"ili9341\"\nwidth = 480\nheight = 320\n", "panel.width"),
        ("model = \"st7789\"\nrotation = 45\n", "panel.rotation"),
        ("model = \"st7789\"\ndc_pin = 13\n", "panel.dc_pin"),
        ("model = \"st7789\"\nreset_pin = 10\n", "panel.reset_pin"),
        ("model = \"st7789\"\nreset_pin = 24\n", "panel.reset_pin"),
        ("model = \"st7789\"\ntouch = \"xpt2046\"\ntouch_chip_select = 0\n", "panel.touch_chip_select"),
        ("model = \"st7789\"\ntouch = \"xpt2046\"\ntouch_calibration = [1, 2, 3]\n", "panel.touch_calibration"),
        (
            "model = \"st7789\"\ntouch = \"xpt2046\"\ntouch_calibration = [100, 100, 100, 3000]\n",
            "panel.touch_calibration",
        ),
        ("model = \"st7789\"\nspi_speed_mhz = 0\n", "panel.spi_speed_mhz"),
        ("model = \"st7789\"\ntouch = \"ft6236\"\n", "panel.touch"),
    ];
    for (text, key) in cases {
        let err = panel(text).expect_err(text);
        assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
        assert!(!err.message.is_empty());
    }
    // A button on the panel's SPI bus is refused too.
    let err = parse_text("[hardware]\nbuttons = [5, 6, 9]\n[panel]\nmodel = \"st7789\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("hardware.buttons"), "{err}");
}

#[test]
fn embedded_default_is_valid_and_matches_built_in_defaults() {
    let config = Config::embedded();
    assert_eq!(config.device_id, "borne-demo-01");
    assert_eq!(config.survey.comment_max_chars, 500);
    assert_eq!(config.min_reviews_for_score, 100);
    assert_eq!(config.comment_retention_days, 30);
    assert_eq!(config.survey.follow_ups, default_follow_ups());
    assert!(config.upload.is_none());
    // An empty file means the same as the embedded text.
    let empty = parse_text("").unwrap();
    assert_eq!(empty.survey.follow_ups, config.survey.follow_ups);
    assert_eq!(empty.survey.languages, config.survey.languages);
}

#[test]
fn commented_example_names_every_key() {
    // Uncomment every "# key = value" line: the result must still parse (so each is a real
    // key) and must mention every key of the schema.
    let uncommented: String = DEFAULT_CONFIG
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let raw: RawConfig = toml::from_str(&uncommented).expect("uncommented example parses");
    let printed = toml::to_string(&raw).unwrap();
    let full = toml::to_string(&full_raw()).unwrap();
    let keys = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string())).collect()
    };
    let missing: Vec<_> = keys(&full).difference(&keys(&printed)).cloned().collect();
    assert!(missing.is_empty(), "keys missing from the example: {missing:?}");
}

fn full_raw() -> RawConfig {
    RawConfig {
        kiosk: RawKiosk {
            device_id: Some("a".into()),
            site_name: Some("a".into()),
            languages: Some(vec!["fr".into()]),
            response_interval_s: Some(1),
            inactivity_timeout_s: Some(1),
            thanks_duration_s: Some(1),
            fullscreen: Some(true),
            show_result: Some(true),
            admin_pin: Some("1".into()),
        },
        storage: RawStorage { data_dir: Some("/a".into()), comment_retention_days: Some(1) },
        survey: RawSurvey {
            comment: Some(true),
            comment_max_chars: Some(1),
            min_reviews_for_score: Some(1),
            follow_up: Some(vec![RawQuestion {
                code: "a".into(),
                label: Some("a".into()),
                kind: Some("radio".into()),
                show_after: Some(vec!["moyen".into()]),
                items: Some(vec![RawItem {
                    id: 1,
                    text: "a".into(),
                    intention: "good".into(),
                    exclusive: Some(false),
                }]),
            }]),
            keep_local: Some(vec!["comment".into()]),
        },
        clock: RawClock { sync_source: Some("kernel".into()) },
        upload: RawUpload {
            enabled: Some(true),
            base_url: Some("http://a".into()),
            allow_insecure_http: Some(true),
            token_file: Some("/a".into()),
            product_id: Some(1),
            form_id: Some(1),
            button_id: Some(1),
            batch_size: Some(1),
            ca_file: Some("/a".into()),
            connect_timeout_s: Some(1),
            request_timeout_s: Some(1),
            max_backoff_s: Some(1),
            heartbeat_interval_s: Some(1),
            survey_poll_s: Some(1),
        },
        dashboard: RawDashboard {
            listen: Some("a".into()),
            tls_cert_file: Some("/a".into()),
            tls_key_file: Some("/a".into()),
            session_idle_min: Some(1),
        },
        hardware: RawHardware {
            backend: Some("a".into()),
            if_no_pi: Some("a".into()),
            buttons: Some(vec![1]),
            debounce_ms: Some(1),
            presence_pin: Some(1),
            led_pin: Some(1),
            backlight: Some("a".into()),
            dim_after_min: Some(1),
            dim_percent: Some(1),
            pending_alert_h: Some(1),
            outside_hours: Some("a".into()),
        },
        hours: RawHours {
            monday: Some("a".into()),
            tuesday: Some("a".into()),
            wednesday: Some("a".into()),
            thursday: Some("a".into()),
            friday: Some("a".into()),
            saturday: Some("a".into()),
            sunday: Some("a".into()),
            closed_dates: Some(vec!["a".into()]),
        },
        panel: RawPanel {
            model: Some("a".into()),
            spi_bus: Some(1),
            spi_chip_select: Some(1),
            spi_speed_mhz: Some(1),
            dc_pin: Some(1),
            reset_pin: Some(1),
            backlight_pin: Some(1),
            width: Some(1),
            height: Some(1),
            rotation: Some(1),
            mirrored: Some(true),
            invert_colors: Some(true),
            bgr: Some(true),
            touch: Some("a".into()),
            touch_chip_select: Some(1),
            touch_irq_pin: Some(1),
            touch_calibration: Some(vec![1]),
            touch_swap_xy: Some(true),
        },
        accessibility: RawAccessibility {
            speech: Some(true),
            audio_device: Some("a".into()),
            volume: Some(1),
            volume_step: Some(1),
            speed: Some(1),
            speak_pin: Some(1),
            volume_up_pin: Some(1),
            volume_down_pin: Some(1),
            headset_pin: Some(1),
        },
        update: RawUpdate {
            enabled: Some(true),
            url: Some("https://a/".into()),
            platform: Some(false),
            window: Some("01:00-05:00".into()),
            confirm_timeout_s: Some(60),
        },
    }
}

#[test]
fn accessibility_is_checked_key_by_key_and_its_pins_are_its_own() {
    let cfg = parse_text(
        "[accessibility]
speak_pin = 26
volume_up_pin = 22
headset_pin = 12
",
    )
    .unwrap();
    assert_eq!((cfg.accessibility.speak_pin, cfg.accessibility.volume), (Some(26), 60));
    for (text, key) in [
        (
            "[accessibility]
volume = 5
",
            "accessibility.volume",
        ),
        (
            "[accessibility]
volume_step = 0
",
            "accessibility.volume_step",
        ),
        (
            "[accessibility]
speed = 1000
",
            "accessibility.speed",
        ),
        (
            "[accessibility]
audio_device = \"a b\"
",
            "accessibility.audio_device",
        ),
        (
            "[accessibility]
speak_pin = 40
",
            "accessibility.speak_pin",
        ),
        (
            "[accessibility]
speak_pin = 26
headset_pin = 26
",
            "accessibility",
        ),
        (
            "[hardware]
buttons = [5, 6, 13]
[accessibility]
speak_pin = 13
",
            "accessibility",
        ),
        (
            "[panel]
model = \"ili9341\"
[accessibility]
speak_pin = 10
",
            "accessibility",
        ),
    ] {
        let err = parse_text(text).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
    }
}

#[test]
fn updates_are_off_by_default_and_checked_key_by_key() {
    assert_eq!(parse_text("").unwrap().update, None);
    let cfg = parse_text(
        "[update]
enabled = true
url = \"https://maj.example/borne/stable\"
",
    )
    .unwrap();
    let update = cfg.update.unwrap();
    assert_eq!(
        update.source,
        UpdateSource::Folder("https://maj.example/borne/stable/".into()),
        "the folder's URL ends with a slash"
    );
    assert_eq!(update.window.0.to_string(), "01:00:00");
    assert_eq!(update.window.1.to_string(), "05:00:00");
    assert_eq!(update.confirm_timeout.as_secs(), 600);
    for (text, key) in [
        ("[update]\nenabled = true\n", "update.url"),
        ("[update]\nenabled = true\nurl = \"ftp://maj.example/\"\n", "update.url"),
        ("[update]\nenabled = true\nurl = \"https://maj.example/a b/\"\n", "update.url"),
        ("[update]\nenabled = true\nurl = \"https://m/\"\nwindow = \"05:00-01:00\"\n", "update.window"),
        ("[update]\nenabled = true\nurl = \"https://m/\"\nwindow = \"01:00-02:00, 03:00-04:00\"\n", "update.window"),
        ("[update]\nenabled = true\nurl = \"https://m/\"\nconfirm_timeout_s = 10\n", "update.confirm_timeout_s"),
        ("[update]\nenabled = true\nplatform = true\n", "update.platform"),
        ("[update]\nenabled = true\nplatform = true\nurl = \"https://m/\"\n", "update.platform"),
    ] {
        let err = parse_text(text).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
    }
}

#[test]
fn unknown_key_names_key_and_line() {
    let err = parse_text("[kiosk]\ndevice_id = \"x\"\ncolour = \"red\"\n").unwrap_err();
    assert_eq!(err.line, Some(3));
    assert_eq!(err.key.as_deref(), Some("kiosk.colour"));
    assert!(err.message.contains("colour"), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("ligne 3") && shown.contains("kiosk.colour"), "{shown}");

    let err = parse_text("[survey]\n\n[[survey.follow_up]]\ncode = \"x\"\nfoo = 1\n").unwrap_err();
    assert_eq!(err.line, Some(5));
    assert_eq!(err.key.as_deref(), Some("survey.follow_up[0].foo"));

    let err = parse_text("[nope]\n").unwrap_err();
    assert_eq!(err.line, Some(1));
}

#[test]
fn wrong_type_and_bad_values_name_key_and_line() {
    let err = parse_text("[kiosk]\nresponse_interval_s = \"five\"\n").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(2), Some("kiosk.response_interval_s")));

    let err = parse_text("[upload]\nenabled = true\nbase_url = \"ftp://x\"\n").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(3), Some("upload.base_url")));

    let err = parse_text("[kiosk]\nlanguages = [\"fr\",\n  \"xx\"]\n").unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(3), Some("kiosk.languages[1]")));

    let text = "[[survey.follow_up]]\ncode = \"a\"\nlabel = \"Q\"\nkind = \"radio\"\nitems = [\n { id = 1, text = \"x\", intention = \"good\" },\n { id = 2, text = \"y\", intention = \"great\" },\n]\n";
    let err = parse_text(text).unwrap_err();
    assert_eq!((err.line, err.key.as_deref()), (Some(7), Some("survey.follow_up[0].items[1].intention")));

    let err = parse_text("[storage]\ncomment_retention_days = 0\n").unwrap_err();
    assert_eq!(err.line, Some(2));
    let err = parse_text("[kiosk\n").unwrap_err();
    assert_eq!(err.line, Some(1));
    assert!(err.message.contains("TOML"));
}

#[test]
fn follow_ups_can_be_none_jdma_or_custom() {
    let none = parse_text("[survey]\nfollow_up = []\n").unwrap();
    assert!(none.survey.follow_ups.is_empty());
    let jdma = parse_text("[[survey.follow_up]]\ncode = \"comprehension\"\nshow_after = [\"tres_bien\"]\n").unwrap();
    assert_eq!(jdma.survey.follow_ups[0].items.len(), 5);
    assert_eq!(jdma.survey.follow_ups[0].show_after, vec![Satisfaction::Good]);
    let err = parse_text("[[survey.follow_up]]\ncode = \"comprehension\"\nlabel = \"x\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("survey.follow_up[0].label"));
    let err = parse_text("[[survey.follow_up]]\ncode = \"satisfaction\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("survey.follow_up[0].code"));
}

#[test]
fn upload_section_and_secret() {
    let dir = std::env::temp_dir().join(format!("borne-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "abc123\n").unwrap();
    let text = format!(
        "{FIELD_KIOSK}[upload]\nenabled = true\nallow_insecure_http = true\nbase_url = \"http://127.0.0.1:1/\"\ntoken_file = \"{}\"\nproduct_id = 1\nform_id = 2\nbutton_id = 3\n",
        token.display()
    );
    let config = parse_text(&text).unwrap();
    let from_platform = parse_text(&format!("{text}[update]\nenabled = true\nplatform = true\n")).unwrap();
    assert_eq!(from_platform.update.map(|u| u.source), Some(UpdateSource::Platform));
    let upload = config.upload.unwrap();
    assert_eq!(upload.base_url, "http://127.0.0.1:1");
    let secret = upload.read_token().unwrap();
    assert_eq!(secret.expose(), "abc123");
    assert_eq!(format!("{secret:?}"), "Secret(***)");
    let err = parse_text("[upload]\nenabled = true\nbase_url = \"https://x\"\ntoken_file = \"/t\"\n").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("upload.product_id"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_error_next_to_accented_text_is_located_without_panicking() {
    // Offset 1 falls inside the first « é » (two bytes).
    assert_eq!(locate::line_of("é\né", 1), 1);
    assert_eq!(locate::line_of("é\né", 4), 2);
    let e = parse_text("[kiosk]\nsite_name = \"Préfecture é\" é\n").unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
}

/// A kiosk identity fit for the field (not the demonstration one, not the default PIN).
const FIELD_KIOSK: &str = "[kiosk]\ndevice_id = \"prefecture-69-accueil-1\"\nadmin_pin = \"4821\"\n";

#[test]
fn uploads_go_over_https_from_a_kiosk_with_its_own_identity() {
    let upload = "[upload]\nenabled = true\ntoken_file = \"/t\"\nproduct_id = 1\nform_id = 2\nbutton_id = 3\n";
    let with =
        |kiosk: &str, url: &str, extra: &str| parse_text(&format!("{kiosk}{upload}base_url = \"{url}\"\n{extra}"));
    // https:// is enough; http:// only when the lab flag says so.
    assert!(with(FIELD_KIOSK, "https://plateforme.example", "").is_ok());
    let err = with(FIELD_KIOSK, "http://plateforme.example", "").unwrap_err();
    assert_eq!((err.key.as_deref(), err.line), (Some("upload.base_url"), Some(10)), "{err}");
    assert!(err.message.contains("https://") && err.message.contains("allow_insecure_http"), "{err}");
    let lab = with(FIELD_KIOSK, "http://127.0.0.1:8080", "allow_insecure_http = true\n").unwrap();
    assert_eq!(lab.upload.unwrap().base_url, "http://127.0.0.1:8080");
    // The demonstration identity and the default PIN are refused once uploads are on.
    let err = with("", "https://plateforme.example", "").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("kiosk.device_id"), "{err}");
    let err = with("[kiosk]\ndevice_id = \"prefecture-69\"\n", "https://plateforme.example", "").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("kiosk.admin_pin"), "{err}");
    // Uploads off: the demonstration kiosk runs, and no LED alarm waits on uploads.
    let demo = Config::embedded();
    assert!(demo.upload.is_none());
    assert_eq!(demo.hardware.behaviour.pending_alert, None);
    let field = with(FIELD_KIOSK, "https://plateforme.example", "").unwrap();
    assert_eq!(field.hardware.behaviour.pending_alert, Some(std::time::Duration::from_secs(24 * 3600)));
}

/// The platform's starting point for a survey version is the kiosk's default survey: the same
/// questions, comment and rule as `borne config default`.
#[test]
fn the_platforms_survey_template_is_the_default_survey() {
    let config = Config::embedded();
    let (survey, min_reviews) =
        borne_model::survey_file::check_published(borne_model::survey_file::TEMPLATE, config.survey.languages.clone())
            .unwrap();
    assert_eq!(survey, config.survey);
    assert_eq!(min_reviews, config.min_reviews_for_score);
    // Laid over the default configuration, it changes nothing.
    let laid = config.with_published(borne_model::survey_file::TEMPLATE).unwrap();
    assert_eq!((laid.survey, laid.min_reviews_for_score), (config.survey, config.min_reviews_for_score));
}

/// A published version replaces the file's keys it sets, keeps those it leaves out, and never
/// the keys the site keeps (`keep_local`); a version with another section or `keep_local` is refused.
#[test]
fn a_published_version_replaces_the_keys_it_sets_except_those_the_site_keeps() {
    let file = parse(
        "[survey]\ncomment_max_chars = 300\nmin_reviews_for_score = 50\nkeep_local = [\"comment_max_chars\"]\n",
        ConfigSource::Embedded,
    )
    .unwrap();
    let laid = file.with_published("[survey]\ncomment = false\ncomment_max_chars = 100\nfollow_up = []\n").unwrap();
    assert!(!laid.survey.comment_enabled, "set by the version");
    assert_eq!(laid.survey.comment_max_chars, 300, "kept by the site");
    assert_eq!(laid.min_reviews_for_score, 50, "left out by the version");
    assert!(laid.survey.follow_ups.is_empty());
    assert!(file.with_published("[survey]\nkeep_local = []\n").unwrap_err().contains("keep_local"));
    assert!(file.with_published("[kiosk]\nadmin_pin = \"1\"\n").unwrap_err().contains("ligne 1"));
    assert!(file.with_published("[survey]\ncomment_max_chars = 0\n").unwrap_err().contains("survey.comment_max_chars"));
    let unknown = parse("[survey]\nkeep_local = [\"languages\"]\n", ConfigSource::Embedded).unwrap_err();
    assert_eq!(unknown.key.as_deref(), Some("survey.keep_local[0]"));
}
