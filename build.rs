//! Compiles the Slint UI (`ui/app.slint`) with its bundled translations (`ui/translations`).

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        // Fonts and images are embedded in the binary: a kiosk depends on no file at run time.
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles)
        .with_bundled_translations("ui/translations")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        // The testing backend finds elements by accessible label only with debug info.
        .with_debug_info(true);
    slint_build::compile_with_config("ui/app.slint", config).expect("the Slint UI compiles");
}
