//! What the user asks the editor to do. The panels, the canvas and the keyboard shortcuts only emit these;
//! [`EditorApp::act`](super::EditorApp::act) is the one place that applies them, so every change of the document,
//! the tools, the view and the render session is made (and can be tested) the same way.

use super::{Display, Tool};
use crate::scene::StyleChoice;
use std::path::PathBuf;

/// A pixel of the image, in image coordinates (may lie outside it while the pointer is off the map).
pub type Pixel = (i64, i64);

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    // --- the document ---
    /// A blank 2048×1024 road scene.
    NewBlank,
    /// A copy of a sample scene, not tied to its file.
    NewFromSample(PathBuf),
    /// A scene `.json` or a label `.png` (its instance map found by name).
    Open(PathBuf),
    /// Save the scene as one self-contained `.json` here (and save there from now on).
    SaveAs(PathBuf),
    /// Write the render and its label and instance maps here, once the full render of the scene as it is now is
    /// there.
    Export(PathBuf),
    Undo,
    Redo,
    // --- painting, with the current class ---
    /// A brush dab at `at`; with `line`, a straight line from where the last stroke ended.
    StrokeBegin {
        at: Pixel,
        line: bool,
    },
    StrokeTo(Pixel),
    StrokeEnd,
    FillRect(Pixel, Pixel),
    /// Fill the polygon with these corners (image coordinates).
    FillPolygon(Vec<(f32, f32)>),
    FloodFill(Pixel),
    /// The eyedropper: the class under the pixel becomes the paint class.
    PickClass(Pixel),
    // --- objects ---
    SelectAt(Pixel),
    ClearSelection,
    ChangeCategory(u8),
    DeleteSelected,
    /// A copy of the selection a little to the right, selected.
    DuplicateSelected,
    MoveSelected {
        dx: i64,
        dy: i64,
    },
    ReplaceClass {
        from: u8,
        to: u8,
    },
    /// The selected object's (or region's) style.
    SetStyle(StyleChoice),
    /// Another of the selection's style clusters, drawn at random (from the seed, the object and how many times
    /// it was drawn before).
    RerollStyle,
    // --- tools and view ---
    SetTool(Tool),
    ChooseClass(u8),
    SetBrushRadius(u32),
    SetExtendInstance(bool),
    SetDisplay(Display),
    SetOpacity(f32),
    SetOutlines(bool),
    FitView,
    SetPreviews(bool),
    SetShowTimings(bool),
    /// Show this in the status bar.
    Notice(String),
    DismissMessage,
    // --- the renderer ---
    OpenModel(PathBuf),
    RestartRenderer,
    /// The seed of every style left to chance.
    SetSeed(u64),
    // --- crash recovery ---
    Recover,
    DiscardRecovery,
}
