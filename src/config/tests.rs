use std::path::Path;

use super::*;

const RECIPE: &str = include_str!("../../configs/imagenet-r18-clip-rn50.toml");

const MINIMAL: &str = r#"
[data]
train = "train"
batch_size = 64
[student]
arch = "mobilenet_v2"
[teacher]
kind = "clip"
weights = "RN50.pt"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("run.toml"))
}

#[test]
fn published_recipe_is_encoded_exactly() {
    let c = parse(RECIPE).unwrap();
    assert_eq!(c.student.arch, StudentArch::Resnet18);
    assert_eq!(c.teacher.kind, TeacherKind::Clip);
    assert_eq!(c.teacher.embed_dim, Some(1024));
    assert_eq!((c.loss.student_temperature, c.loss.teacher_temperature), (0.2, 0.01));
    assert_eq!((c.loss.image_weight, c.loss.text_weight), (0.5, 0.5));
    assert_eq!(c.banks.visual_momentum, 0.999);
    assert_eq!(c.banks.classnames, "imagenet");
    assert_eq!(c.banks.templates, "openai_imagenet");
    assert_eq!(c.optimizer.kind, OptimizerKind::Sgd);
    assert_eq!((c.optimizer.momentum, c.optimizer.weight_decay), (0.9, 1e-4));
    assert_eq!(c.data.batch_size, 2048);
    assert!((c.scaled_lr() - 0.24).abs() < 1e-12);
    assert_eq!((c.schedule.epochs, c.schedule.warmup_epochs), (200, 5));
    assert_eq!(c.schedule.warmup_start_lr, Some(0.03));
    assert_eq!(c.precision.autocast, Autocast::Fp16);
    assert_eq!(c.augmentation, lgd_datasets::augment::AugmentationConfig::default(), "MoCo-v2 as published");
}

#[test]
fn defaults_fill_a_minimal_file_with_the_published_values() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.loss, LossSection::default());
    assert_eq!(c.optimizer.lr, 0.03);
    assert_eq!(c.banks.text, TextBankSource::Prompts);
    assert_eq!(c.run.device, DeviceSpec::Cuda(0));
    assert_eq!(c.checkpoint.resume, ResumePolicy::Auto);
}

#[test]
fn resolved_config_round_trips_through_toml() {
    let c = parse(RECIPE).unwrap();
    let again = parse(&c.to_toml()).unwrap();
    assert_eq!(c, again);
}

#[test]
fn printed_floats_are_what_the_user_wrote() {
    let c = parse(&format!("{MINIMAL}[augmentation]\nbrightness = 0.3\nblur_sigma = [0.2, 1.7]\n")).unwrap();
    let text = c.to_toml();
    for written in [
        "brightness = 0.3\n",
        "contrast = 0.4\n",
        "hue = 0.1\n",
        "blur_sigma = [0.2, 1.7]\n",
        "mean = [0.48145467, 0.4578275, 0.40821072]\n",
    ] {
        assert!(text.contains(written), "`{}` not in:\n{text}", written.trim());
    }
    assert!(!text.contains("000000"), "float noise:\n{text}");
    assert_eq!(parse(&text).unwrap(), c, "and it reads back as the same f32 values");
}

#[test]
fn max_pixels_defaults_to_the_decoders_guard_and_is_validated() {
    assert_eq!(parse(MINIMAL).unwrap().data.max_pixels, lgd_datasets::decode::DEFAULT_MAX_PIXELS);
    let set = parse(&MINIMAL.replace("batch_size = 64", "batch_size = 64\nmax_pixels = 1000")).unwrap();
    assert_eq!(set.data.max_pixels, 1000);
    let zero = parse(&MINIMAL.replace("batch_size = 64", "batch_size = 64\nmax_pixels = 0")).unwrap_err().to_string();
    assert!(zero.contains("data.max_pixels: must be >= 1"), "{zero}");
}

#[test]
fn one_bad_file_is_always_tolerated_unless_the_fraction_is_zero() {
    let mut c = parse(MINIMAL).unwrap();
    assert_eq!([c.data.bad_files_allowed(10), c.data.bad_files_allowed(100), c.data.bad_files_allowed(101)], [1, 1, 2]);
    assert_eq!(c.data.bad_files_allowed(1_281_167), 12_812);
    c.data.max_bad_fraction = 0.07;
    assert_eq!(c.data.bad_files_allowed(100), 7);
    c.data.max_bad_fraction = 0.0;
    assert_eq!(c.data.bad_files_allowed(1_000_000), 0);
}

#[test]
fn negative_lr_names_the_field() {
    let err = parse(&RECIPE.replace("\nlr = 0.03 ", "\nlr = -1 ")).unwrap_err();
    match &err {
        ConfigError::Invalid { problems, .. } => {
            assert_eq!(problems, &[FieldProblem { field: "optimizer.lr".into(), message: "must be > 0".into() }])
        }
        other => panic!("expected Invalid, got {other}"),
    }
    assert!(err.to_string().contains("optimizer.lr: must be > 0"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = MINIMAL.replace("batch_size = 64", "batch_size = 0")
        + "[loss]\nteacher_temperature = 0\n[pipeline]\nhost_batches = 0\n[schedule]\nepochs = 3\nwarmup_epochs = 5\n";
    let err = parse(&text).unwrap_err();
    let ConfigError::Invalid { problems, .. } = err else { panic!("expected Invalid") };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["data.batch_size", "loss.teacher_temperature", "schedule.warmup_epochs", "pipeline.host_batches"]
    );
}

#[test]
fn unknown_field_names_its_path_and_line() {
    let text = RECIPE.replace("\nmomentum = 0.9\n", "\nmomentum = 0.9\nmomentun = 0.8\n");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.starts_with("run.toml: optimizer.momentun: unknown field `momentun`"), "{err}");
    let line = RECIPE[..RECIPE.find("\nmomentum = 0.9").unwrap()].matches('\n').count() + 3;
    assert!(err.contains(&format!("(line {line})")), "{err}");
}

#[test]
fn wrong_type_and_bad_enum_name_the_field() {
    let err = parse(&MINIMAL.replace("batch_size = 64", "batch_size = \"big\"")).unwrap_err().to_string();
    assert!(err.starts_with("run.toml: data.batch_size: invalid type"), "{err}");
    let err = parse(&MINIMAL.replace("mobilenet_v2", "vgg16")).unwrap_err().to_string();
    assert!(err.starts_with("run.toml: student.arch: unknown variant `vgg16`"), "{err}");
    let err = parse(&format!("{MINIMAL}[run]\ndevice = \"gpu\"\n")).unwrap_err().to_string();
    assert!(err.starts_with("run.toml: run.device:") && err.contains("`gpu` is not a device"), "{err}");
}

#[test]
fn missing_section_and_syntax_errors_are_reported() {
    let err = parse("[data]\ntrain = \"x\"\nbatch_size = 1\n").unwrap_err().to_string();
    assert!(err.contains("missing field `student`"), "{err}");
    let err = parse("[data\n").unwrap_err().to_string();
    assert_eq!(err, "run.toml: invalid table header; expected `.`, `]` (line 1)");
}

#[test]
fn teacher_and_bank_source_must_fit_together() {
    let text = MINIMAL.to_owned() + "[banks]\ntext = \"teacher_classifier\"\n";
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("banks.text: `teacher_classifier` needs teacher.kind"), "{err}");
    let text = MINIMAL.to_owned() + "[banks]\nguidance = \"fashion_mnist_imagenet\"\n";
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("banks.guidance: guides the classifier bank of a supervised teacher"), "{err}");
}

#[test]
fn an_augmentation_recipe_fills_the_fields_the_file_leaves_out() {
    use lgd_datasets::augment::{AugmentationConfig, Recipe};
    let text = MINIMAL.to_owned() + "[augmentation]\nrecipe = \"swav\"\nhue = 0.1\nfast_decode = false\n";
    let a = parse(&text).unwrap().augmentation;
    let swav = AugmentationConfig::for_recipe(Recipe::Swav);
    assert_eq!(a, AugmentationConfig { hue: 0.1, fast_decode: false, ..swav });
    assert_eq!((a.crop_scale, a.brightness, a.blur_p), ([0.14, 1.0], 0.8, 0.5));
    let err = parse(&(MINIMAL.to_owned() + "[augmentation]\nrecipe = \"byol\"\n")).unwrap_err().to_string();
    assert!(err.starts_with("run.toml: augmentation.recipe: unknown variant `byol`"), "{err}");
}

#[test]
fn augmentation_problems_carry_the_section() {
    let text = MINIMAL.to_owned() + "[augmentation]\ncrop_scale = [0.9, 0.2]\n";
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("augmentation.crop_scale: min must be > 0"), "{err}");
}

#[test]
fn fp16_on_cpu_is_refused() {
    let text = MINIMAL.to_owned() + "[run]\ndevice = \"cpu\"\n[precision]\nautocast = \"fp16\"\n";
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("precision.autocast: fp16"), "{err}");
}

#[test]
fn validation_settings_without_a_val_split_are_refused() {
    let err =
        parse(&(MINIMAL.to_owned() + "[validation]\nevery_steps = 100\nmax_images = 500\n")).unwrap_err().to_string();
    assert!(
        err.contains("validation.every_steps: is set, but data.val is not") && err.contains("validation.max_images"),
        "{err}"
    );
    // The defaults, or validation switched off, ask for nothing.
    assert!(parse(MINIMAL).is_ok());
    assert!(parse(&(MINIMAL.to_owned() + "[validation]\nevery_epochs = 0\n")).is_ok());
    let with_val = MINIMAL.replace("train = \"train\"", "train = \"train\"\nval = \"val\"");
    assert!(parse(&(with_val + "[validation]\nevery_steps = 100\n")).is_ok());
}

#[test]
fn every_shipped_config_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
            checked += 1;
        }
    }
    assert!(checked >= 4, "configs checked: {checked}");
}

#[test]
fn requeue_takes_usr1_or_usr2_and_its_signal_needs_it() {
    let with = |run: &str| parse(&format!("{MINIMAL}[run]\n{run}\n"));
    assert_eq!(with("").unwrap().run.requeue_on(), None);
    assert_eq!(with("requeue = true").unwrap().run.requeue_on(), Some(RequeueSignal::Usr1));
    let usr2 = with("requeue = true\nrequeue_signal = \"SIGUSR2\"").unwrap();
    assert_eq!(usr2.run.requeue_on(), Some(RequeueSignal::Usr2));
    assert_eq!(parse(&usr2.to_toml()).unwrap(), usr2, "round-trips as {:?}", usr2.to_toml());
    let error = with("requeue = true\nrequeue_signal = \"TERM\"").unwrap_err().to_string();
    assert!(error.contains("run.requeue_signal") && error.contains("`TERM` is not USR1 or USR2"), "{error}");
    let error = with("requeue_signal = \"USR1\"").unwrap_err().to_string();
    assert!(error.contains("run.requeue_signal: is set, but run.requeue is not"), "{error}");
}
