//! The paint and object tools, and the settings they paint with.

/// A canvas tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Brush,
    Rect,
    Polygon,
    Fill,
    Eyedropper,
    Select,
}

impl Tool {
    pub const ALL: [Tool; 6] = [Tool::Brush, Tool::Rect, Tool::Polygon, Tool::Fill, Tool::Eyedropper, Tool::Select];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Brush => "Brush",
            Tool::Rect => "Rectangle",
            Tool::Polygon => "Polygon",
            Tool::Fill => "Fill",
            Tool::Eyedropper => "Eyedropper",
            Tool::Select => "Select",
        }
    }

    pub fn key(self) -> egui::Key {
        match self {
            Tool::Brush => egui::Key::B,
            Tool::Rect => egui::Key::R,
            Tool::Polygon => egui::Key::P,
            Tool::Fill => egui::Key::F,
            Tool::Eyedropper => egui::Key::I,
            Tool::Select => egui::Key::V,
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Tool::Brush => {
                "Paint with a round, hard-edged brush; shift-click draws a straight line from the last point"
            }
            Tool::Rect => "Drag to fill a rectangle",
            Tool::Polygon => "Click the corners; double-click or Enter fills, Esc cancels",
            Tool::Fill => "Fill the connected region under the cursor",
            Tool::Eyedropper => "Pick the class under the cursor",
            Tool::Select => "Click an object to select it; drag it to move it",
        }
    }
}

/// The tool in hand and what it paints with.
#[derive(Debug, Clone, PartialEq)]
pub struct Tools {
    pub tool: Tool,
    /// The paint class.
    pub class: u8,
    /// Most recent first, at most 8.
    pub recent_classes: Vec<u8>,
    pub brush_radius: u32,
    /// Paint into the selected object instead of starting a new one.
    pub extend_instance: bool,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            tool: Tool::Brush,
            class: 26,
            recent_classes: vec![26, 7, 8, 11, 21, 24],
            brush_radius: 12,
            extend_instance: false,
        }
    }
}

impl Tools {
    /// Makes `class` the paint class and the first of the recent ones.
    pub fn choose_class(&mut self, class: u8) {
        self.class = class;
        self.recent_classes.retain(|&c| c != class);
        self.recent_classes.insert(0, class);
        self.recent_classes.truncate(8);
    }
}
