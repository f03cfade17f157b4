//! What the kiosk's state decides on its own: the screen shown, the admin overlay's lines,
//! the deadlines, the inputs taken or refused. The window is drawn from it by `Kiosk`.

use super::*;

impl State {
    /// The screen the window shows: an overlay, or the flow's screen.
    pub(super) fn shown_screen(&self) -> Screen {
        match (self.overlay, self.flow.screen()) {
            (Overlay::Languages, _) => Screen::Languages,
            (Overlay::Pin, _) => Screen::AdminPin,
            (Overlay::Admin, _) => Screen::Admin,
            (Overlay::None, flow::Screen::Home) => Screen::Home,
            (Overlay::None, flow::Screen::FollowUp(_)) => Screen::FollowUp,
            (Overlay::None, flow::Screen::Comment) => Screen::Comment,
            (Overlay::None, flow::Screen::Saving) => Screen::Saving,
            (Overlay::None, flow::Screen::Thanks) => Screen::Thanks,
            (Overlay::None, flow::Screen::OutOfService) => Screen::OutOfService,
            (Overlay::None, flow::Screen::Closed) => Screen::Closed,
        }
    }

    /// Applies one input; returns true when the manager asked to quit.
    pub(super) fn input(&mut self, input: Input, now: Instant) -> bool {
        if self.overlay != Overlay::None {
            self.overlay_input = now;
        }
        let flow_event = match input {
            Input::Rate(n) => match Satisfaction::from_item_id(n.into()) {
                Some(s) if self.overlay == Overlay::None => Some(Event::Rate(s)),
                _ => None,
            },
            Input::OpenLanguages if self.home() => {
                self.open(Overlay::Languages, now);
                None
            }
            Input::ChooseLanguage(code) if self.overlay == Overlay::Languages => {
                self.overlay = Overlay::None;
                Some(Event::Language(code))
            }
            Input::CloseLanguages if self.overlay == Overlay::Languages => {
                self.overlay = Overlay::None;
                None
            }
            Input::ToggleContrast => Some(Event::ToggleLargeText),
            Input::Toggle(id) => Some(Event::Toggle(id)),
            Input::Next => Some(Event::Next),
            Input::Skip => Some(Event::Skip),
            Input::Key(text) => {
                let mut comment = self.flow.comment().to_string();
                comment.push_str(&text);
                Some(Event::CommentChanged(comment))
            }
            Input::Backspace => {
                let mut comment = self.flow.comment().to_string();
                comment.pop();
                Some(Event::CommentChanged(comment))
            }
            Input::Send => Some(Event::Send),
            Input::AdminTap if self.home() => {
                self.admin_taps.push_back(now);
                while self.admin_taps.front().is_some_and(|t| now.duration_since(*t) > ADMIN_TAPS_WITHIN) {
                    self.admin_taps.pop_front();
                }
                if self.admin_taps.len() >= ADMIN_TAPS {
                    self.admin_taps.clear();
                    self.pin.clear();
                    self.pin_message.clear();
                    self.set_voice(false);
                    self.open(Overlay::Pin, now);
                }
                None
            }
            Input::PinDigit(d) if self.overlay == Overlay::Pin && !self.pin_locked(now) => {
                if self.pin.len() < 12 && d.len() == 1 && d.chars().all(|c| c.is_ascii_digit()) {
                    self.pin.push_str(&d);
                }
                self.pin_message.clear();
                None
            }
            Input::PinErase if self.overlay == Overlay::Pin => {
                self.pin.pop();
                None
            }
            Input::PinSubmit if self.overlay == Overlay::Pin && !self.pin_locked(now) => {
                self.submit_pin(now);
                None
            }
            Input::PinCancel if self.overlay == Overlay::Pin => {
                self.close_overlay();
                None
            }
            Input::AdminClose if self.overlay == Overlay::Admin => {
                self.close_overlay();
                None
            }
            Input::AdminQuit if self.overlay == Overlay::Admin => {
                tracing::warn!("kiosk quit from the administration panel");
                self.close_overlay();
                return true;
            }
            Input::Speech(key) => {
                // « Choose » stands for the tap on the target with the focus.
                return self.speech_key(key, now).is_some_and(|input| self.input(input, now));
            }
            _ => None,
        };
        if let Some(event) = flow_event {
            if self.overlay != Overlay::None {
                return false;
            }
            let effects = self.flow.handle(event, now);
            self.run(effects, now);
        }
        false
    }

    pub(super) fn home(&self) -> bool {
        self.overlay == Overlay::None && *self.flow.screen() == flow::Screen::Home
    }

    pub(super) fn open(&mut self, overlay: Overlay, now: Instant) {
        self.overlay = overlay;
        self.overlay_input = now;
    }

    pub(super) fn close_overlay(&mut self) {
        self.overlay = Overlay::None;
        self.pin.clear();
        self.pin_message.clear();
    }

    pub(super) fn pin_locked(&self, now: Instant) -> bool {
        self.pin_locked_until.is_some_and(|until| now < until)
    }

    pub(super) fn submit_pin(&mut self, now: Instant) {
        let entered = std::mem::take(&mut self.pin);
        if borne_web::auth::constant_time_eq(entered.as_bytes(), self.parts.screen.admin_pin.expose().as_bytes()) {
            tracing::info!("administration panel opened");
            self.pin_failures = 0;
            self.pin_message.clear();
            self.overlay = Overlay::Admin;
            return;
        }
        self.pin_failures += 1;
        tracing::warn!(failures = self.pin_failures, "wrong administration PIN");
        if self.pin_failures >= PIN_ATTEMPTS {
            self.pin_failures = 0;
            self.pin_locked_until = Some(now + PIN_LOCKOUT);
            self.pin_message = format!("Code incorrect. Réessayez dans {} s.", PIN_LOCKOUT.as_secs());
        } else {
            self.pin_message = "Code incorrect.".into();
        }
    }

    pub(super) fn run(&mut self, effects: Vec<Effect>, now: Instant) {
        for effect in effects {
            match effect {
                Effect::Commit(draft) => {
                    let committed = self.commit(&draft);
                    let more = self.flow.handle(Event::Committed(committed), now);
                    if committed {
                        self.refresh_result(now);
                    } else {
                        self.last_probe = now;
                    }
                    self.run(more, now);
                }
                Effect::Suppressed => {
                    tracing::info!(suppressed = self.flow.suppressed(), "tap inside the response interval ignored");
                }
            }
        }
    }

    /// The one path from the screen to the store: build, then commit durably. True only when
    /// the review is on disk, and only then does the visitor see « Merci ».
    pub(super) fn commit(&mut self, draft: &ReviewDraft) -> bool {
        let review = match kiosk::build_review(&self.parts.survey, self.parts.clock.as_ref(), draft) {
            Ok(review) => review,
            Err(e) => {
                tracing::error!("the screen produced a review the survey refuses: {e}");
                return false;
            }
        };
        match kiosk::commit_built(&mut self.parts.store, review.clone()) {
            Ok(_) => {
                (self.parts.on_commit)();
                true
            }
            Err(e) => {
                tracing::error!("review not committed, kiosk out of service: {e}");
                // Kept in memory, with the time it was given, and committed once the store
                // writes again. The visitor was not thanked for it.
                if self.held.len() >= HELD_MAX {
                    self.held.pop_front();
                }
                self.held.push_back(review);
                false
            }
        }
    }

    pub(super) fn tick(&mut self, now: Instant) {
        // Overlays close by themselves when left alone.
        let idle = match self.overlay {
            Overlay::None => None,
            Overlay::Languages => Some(self.parts.screen.timing.inactivity_timeout),
            Overlay::Pin | Overlay::Admin => Some(ADMIN_IDLE),
        };
        if idle.is_some_and(|idle| now.duration_since(self.overlay_input) >= idle) {
            self.close_overlay();
        }
        if self.pin_locked_until.is_some_and(|until| now >= until) {
            self.pin_locked_until = None;
            self.pin_message.clear();
        }
        // Reviews the store refused are written back as soon as it writes again, whatever the
        // screen shows (out of service, closed, or a new visit after opening).
        if self.probing() && now.duration_since(self.last_probe) >= RECOVERY_PROBE {
            self.last_probe = now;
            if self.recover() && *self.flow.screen() == flow::Screen::OutOfService {
                tracing::info!("store writes again, kiosk back in service");
                let effects = self.flow.handle(Event::StoreRecovered, now);
                self.run(effects, now);
                self.refresh_result(now);
            }
        }
        let effects = self.flow.handle(Event::Tick, now);
        self.run(effects, now);
        self.voice_tick(now);
        if self.result_at.is_some_and(|at| now.duration_since(at) >= RESULT_REFRESH) {
            self.refresh_result(now);
        }
        if now.duration_since(self.actions_at) >= ACTIONS_REFRESH {
            self.refresh_action(now);
        }
        if now.duration_since(self.survey_at) >= SURVEY_REFRESH {
            self.refresh_survey(now);
        }
    }

    /// Runs the survey version the platform published, held in the store by the uploader (or
    /// the file's again when it publishes none), at an idle moment only: the home screen, no
    /// overlay, no voice. A visit never sees its questions change.
    pub(super) fn refresh_survey(&mut self, now: Instant) {
        self.survey_at = now;
        // A visitor who chose a language or large text has begun a visit.
        let untouched = self.flow.language() == flow::DEFAULT_LANGUAGE && !self.flow.large_text();
        if !self.home() || !untouched || self.voice.active {
            return;
        }
        let published = match self.parts.store.published_survey() {
            Ok(published) => published,
            Err(e) => {
                tracing::warn!("published survey not read: {e}");
                return;
            }
        };
        let wanted = published.held.as_ref().map(|(version, _)| *version);
        if wanted != self.survey_version {
            let file = &self.parts.file_survey;
            let next = match &published.held {
                Some((version, text)) => {
                    match borne_model::survey_file::overlay(
                        &file.survey,
                        file.min_reviews_for_score,
                        text,
                        &file.keep_local,
                    ) {
                        Ok(next) => next,
                        Err(message) => {
                            tracing::warn!(version, %message, "published survey refused by the screen");
                            let _ = self.parts.store.refuse_published(*version, &message);
                            return;
                        }
                    }
                }
                None => (file.survey.clone(), file.min_reviews_for_score),
            };
            tracing::info!(version = ?wanted, "survey changed at an idle moment");
            self.parts.survey = next.0.clone();
            self.parts.min_reviews_for_score = next.1;
            self.flow.set_survey(next.0);
            self.shown_question = None;
            self.survey_version = wanted;
            self.refresh_result(now);
        }
        if published.running != self.survey_version
            && let Err(e) = self.parts.store.set_running_survey(self.survey_version)
        {
            tracing::warn!("running survey version not written: {e}");
        }
    }

    /// The latest action the manager wrote on the dashboard (maybe from another process).
    pub(super) fn refresh_action(&mut self, now: Instant) {
        self.actions_at = now;
        match self.parts.store.actions() {
            Ok(actions) => {
                self.action = actions.first().map(|a| (a.done_on.format("%d/%m/%Y").to_string(), a.text.clone()));
            }
            Err(e) => tracing::warn!("actions not read: {e}"),
        }
    }

    /// Whether the store is probed: reviews are held, or the kiosk is out of service.
    pub(super) fn probing(&self) -> bool {
        !self.held.is_empty() || *self.flow.screen() == flow::Screen::OutOfService
    }

    /// Commits the reviews held in memory, then checks the store writes. True when it does.
    pub(super) fn recover(&mut self) -> bool {
        while let Some(review) = self.held.front() {
            if let Err(e) = kiosk::commit_built(&mut self.parts.store, review.clone()) {
                tracing::warn!("store still failing: {e}");
                return false;
            }
            (self.parts.on_commit)();
            self.held.pop_front();
        }
        match self.parts.store.check_writable() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("store still failing: {e}");
                false
            }
        }
    }

    /// The site's satisfaction over the last 30 days, as the State computes it; `None` below
    /// the minimum number of reviews.
    pub(super) fn refresh_result(&mut self, now: Instant) {
        self.result_at = Some(now);
        if !self.parts.screen.show_result {
            return;
        }
        let today = chrono::Local::now().date_naive();
        let range = DayRange { since: today.checked_sub_days(chrono::Days::new(29)), until: Some(today) };
        self.result = match self.parts.store.question_counts(range) {
            Ok(counts) => {
                let ind = indicators(&self.parts.survey, &counts, self.parts.min_reviews_for_score);
                match ind.satisfaction.score {
                    Score::Ok { value, band, .. } => Some(((value * 10.0).round() as u32, ind.reviews, band)),
                    _ => None,
                }
            }
            Err(e) => {
                tracing::warn!("result not computed: {e}");
                None
            }
        };
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let overlay = match self.overlay {
            Overlay::None => None,
            Overlay::Languages => Some(self.overlay_input + self.parts.screen.timing.inactivity_timeout),
            Overlay::Pin | Overlay::Admin => Some(self.overlay_input + ADMIN_IDLE),
        };
        let probe = self.probing().then_some(self.last_probe + RECOVERY_PROBE);
        let result = self.parts.screen.show_result.then(|| self.result_at.map(|at| at + RESULT_REFRESH)).flatten();
        let actions = Some(self.actions_at + ACTIONS_REFRESH);
        let survey = Some(self.survey_at + SURVEY_REFRESH);
        [
            self.flow.next_deadline(),
            overlay,
            probe,
            self.pin_locked_until,
            result,
            actions,
            survey,
            self.voice_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
