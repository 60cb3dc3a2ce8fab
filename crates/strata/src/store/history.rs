//! An image's history: the steps its config records, each step that made a
//! layer matched to the image's layer, as docker and podman match them.

use serde::Serialize;

use super::{Image, Store};
use crate::error::Result;
use crate::image::config::{History, ImageConfig};

/// One step of an image's history, as its config records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HistoryStep {
    /// When the step ran (RFC 3339), if the config says.
    pub created: Option<String>,
    /// The command that made it (`/bin/sh -c #(nop)  CMD ["sh"]`).
    pub created_by: Option<String>,
    /// Who made it.
    pub author: Option<String>,
    /// A comment.
    pub comment: Option<String>,
    /// Whether the step made no layer.
    pub empty_layer: bool,
    /// The strata layer id the step made; `None` for an empty layer.
    pub layer: Option<String>,
    /// That layer's uncompressed size in bytes (0 for an empty layer).
    pub size: u64,
}

impl Store {
    /// The image's history, oldest step first, as its config records it.
    ///
    /// The steps that made a layer (not `empty_layer`) are matched to the
    /// image's layers base first, in order. An image whose config has no
    /// history gets one step per layer with nothing but the layer; layers
    /// beyond the history's last layered step get no step (as docker).
    pub fn image_history(&self, image: &Image) -> Result<Vec<HistoryStep>> {
        let what = format!("the config of image {}", image.id);
        let config = ImageConfig::parse(&what, &self.image_config_bytes(image)?)?;
        match_layers(config.history, &image.layers, |id| {
            Ok(self.layer(id)?.diff_size.unwrap_or(0))
        })
    }
}

/// Matches `history` to `layers` (base first); `size` gives a layer's size.
fn match_layers(
    history: Vec<History>,
    layers: &[String],
    size: impl Fn(&str) -> Result<u64>,
) -> Result<Vec<HistoryStep>> {
    let history = match history.is_empty() {
        true => vec![History::default(); layers.len()],
        false => history,
    };
    let mut layers = layers.iter();
    history
        .into_iter()
        .map(|entry| {
            let layer = match entry.empty_layer {
                true => None,
                false => layers.next().cloned(),
            };
            Ok(HistoryStep {
                size: layer.as_deref().map(&size).transpose()?.unwrap_or(0),
                created: entry.created,
                created_by: entry.created_by,
                author: entry.author,
                comment: entry.comment,
                empty_layer: entry.empty_layer,
                layer,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(created_by: &str, empty_layer: bool) -> History {
        History {
            created_by: Some(created_by.to_string()),
            empty_layer,
            ..History::default()
        }
    }

    fn layers(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    fn sizes(id: &str) -> Result<u64> {
        Ok(id.len() as u64 * 10)
    }

    #[test]
    fn layered_steps_take_the_layers_in_order() {
        let history = vec![
            step("ADD", false),
            step("ENV", true),
            step("RUN", false),
            step("CMD", true),
        ];
        let steps = match_layers(history, &layers(&["a", "bb"]), sizes).expect("steps");
        let got: Vec<(Option<&str>, Option<&str>, u64)> = steps
            .iter()
            .map(|s| (s.created_by.as_deref(), s.layer.as_deref(), s.size))
            .collect();
        assert_eq!(
            got,
            [
                (Some("ADD"), Some("a"), 10),
                (Some("ENV"), None, 0),
                (Some("RUN"), Some("bb"), 20),
                (Some("CMD"), None, 0),
            ]
        );
        assert!(steps[1].empty_layer && !steps[2].empty_layer);
    }

    #[test]
    fn no_history_gives_a_blank_step_per_layer() {
        let steps = match_layers(Vec::new(), &layers(&["a", "bb"]), sizes).expect("steps");
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[1].layer.as_deref(), Some("bb"));
        assert_eq!(steps[1].created_by, None);
        assert!(!steps[0].empty_layer);
    }

    #[test]
    fn a_failing_size_lookup_fails_the_history() {
        let fail = |id: &str| Err(crate::Error::LayerNotFound(id.to_string()));
        let error = match_layers(vec![step("ADD", false)], &layers(&["a"]), fail);
        assert!(matches!(error, Err(crate::Error::LayerNotFound(id)) if id == "a"));
    }
}
