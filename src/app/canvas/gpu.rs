//! The GPU layer that colours the label map. The label and instance maps live in two integer textures; an edit
//! uploads only its changed rectangle, and the WGSL shader in `shaders/label.wgsl` looks each pixel's class colour
//! up in a palette and draws instance outlines. Nothing rebuilds an RGBA image of the map on the CPU.

use crate::labels::LABELS;
use crate::scene::{Rect, Scene};
use eframe::egui_wgpu::{self, wgpu};

/// Per-draw parameters; the layout matches `Params` in the shader.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub uv_min: [f32; 2],
    pub uv_max: [f32; 2],
    pub size: [f32; 2],
    pub texels_per_px: f32,
    pub opacity: f32,
    pub selected: u32,
    pub flags: u32,
    pub time: f32,
    pub _pad: f32,
}

pub const FLAG_ALL_OUTLINES: u32 = 1;
pub const FLAG_SELECTION: u32 = 2;
pub const NO_SELECTION: u32 = u32::MAX;

/// Uniform slots: one per label draw in a frame (side by side draws once, the other modes once).
const SLOTS: u64 = 4;
const SLOT_STRIDE: u64 = 256;

/// The GPU side of the label layer, kept in egui_wgpu's callback resources.
pub struct LabelGpu {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    params: wgpu::Buffer,
    palette: wgpu::Buffer,
    maps: Option<Maps>,
}

struct Maps {
    size: (u32, u32),
    label: wgpu::Texture,
    inst: wgpu::Texture,
    bind_group: wgpu::BindGroup,
}

fn palette_bytes() -> Vec<u8> {
    let mut p = vec![[0f32; 4]; 256];
    for l in LABELS.iter() {
        p[l.id as usize] = [l.color[0] as f32 / 255.0, l.color[1] as f32 / 255.0, l.color[2] as f32 / 255.0, 1.0];
    }
    // Ids outside the table (never in a valid scene) show magenta, so a bug cannot hide.
    for c in p.iter_mut().skip(LABELS.len()) {
        *c = [1.0, 0.0, 1.0, 1.0];
    }
    bytemuck::cast_slice(&p).to_vec()
}

impl LabelGpu {
    /// Builds the pipeline and puts it into the renderer's callback resources.
    pub fn install(rs: &egui_wgpu::RenderState) {
        let device = &rs.device;
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("label.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../../shaders/label.wgsl").into()),
        });
        let tex_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Uint,
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("label layer"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: wgpu::BufferSize::new(std::mem::size_of::<Params>() as u64),
                    },
                    count: None,
                },
                tex_entry(1),
                tex_entry(2),
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("label layer"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("label layer"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: rs.target_format,
                    blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("label params"),
            size: SLOTS * SLOT_STRIDE,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bytes = palette_bytes();
        let palette = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("label palette"),
            size: bytes.len() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        rs.queue.write_buffer(&palette, 0, &bytes);
        rs.renderer.write().callback_resources.insert(LabelGpu { pipeline, layout, params, palette, maps: None });
    }

    /// Uploads the scene's maps: all of them when the size changed (or nothing is there yet), else only `dirty`
    /// (the caller passes the whole map for a new scene).
    pub fn upload(rs: &egui_wgpu::RenderState, scene: &Scene, dirty: Option<Rect>) {
        let (w, h) = (scene.width(), scene.height());
        let mut renderer = rs.renderer.write();
        let Some(gpu) = renderer.callback_resources.get_mut::<LabelGpu>() else { return };
        let full = Rect { x: 0, y: 0, width: w, height: h };
        let rect = match &gpu.maps {
            Some(m) if m.size == (w, h) => match dirty {
                Some(r) => r,
                None => return,
            },
            _ => {
                gpu.maps = Some(gpu.create_maps(&rs.device, w, h));
                full
            }
        };
        let Some(m) = &gpu.maps else { return };
        if rect.area() == 0 {
            return;
        }
        let offset = (rect.y as u64 * w as u64) + rect.x as u64;
        let extent = wgpu::Extent3d { width: rect.width, height: rect.height, depth_or_array_layers: 1 };
        let origin = wgpu::Origin3d { x: rect.x, y: rect.y, z: 0 };
        let info =
            |t| wgpu::TexelCopyTextureInfo { texture: t, mip_level: 0, origin, aspect: wgpu::TextureAspect::All };
        rs.queue.write_texture(
            info(&m.label),
            scene.label(),
            wgpu::TexelCopyBufferLayout { offset, bytes_per_row: Some(w), rows_per_image: None },
            extent,
        );
        rs.queue.write_texture(
            info(&m.inst),
            bytemuck::cast_slice(scene.inst()),
            wgpu::TexelCopyBufferLayout { offset: offset * 4, bytes_per_row: Some(w * 4), rows_per_image: None },
            extent,
        );
    }

    fn create_maps(&self, device: &wgpu::Device, w: u32, h: u32) -> Maps {
        let tex = |label, format| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        };
        let label = tex("label ids", wgpu::TextureFormat::R8Uint);
        let inst = tex("instance ids", wgpu::TextureFormat::R32Uint);
        let lv = label.create_view(&Default::default());
        let iv = inst.create_view(&Default::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("label layer"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &self.params,
                        offset: 0,
                        size: wgpu::BufferSize::new(std::mem::size_of::<Params>() as u64),
                    }),
                },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::TextureView(&lv) },
                wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::TextureView(&iv) },
                wgpu::BindGroupEntry { binding: 3, resource: self.palette.as_entire_binding() },
            ],
        });
        Maps { size: (w, h), label, inst, bind_group }
    }
}

/// One draw of the label layer over a screen rectangle.
pub struct LabelDraw {
    pub slot: u32,
    pub params: Params,
}

impl LabelDraw {
    pub fn shape(rect: egui::Rect, slot: u32, params: Params) -> egui::Shape {
        egui::Shape::Callback(egui_wgpu::Callback::new_paint_callback(
            rect,
            LabelDraw { slot: slot.min(SLOTS as u32 - 1), params },
        ))
    }
}

impl egui_wgpu::CallbackTrait for LabelDraw {
    fn prepare(
        &self,
        _device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(gpu) = resources.get::<LabelGpu>() {
            queue.write_buffer(&gpu.params, self.slot as u64 * SLOT_STRIDE, bytemuck::bytes_of(&self.params));
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(gpu) = resources.get::<LabelGpu>() else { return };
        let Some(maps) = &gpu.maps else { return };
        pass.set_pipeline(&gpu.pipeline);
        pass.set_bind_group(0, &maps.bind_group, &[(self.slot as u64 * SLOT_STRIDE) as u32]);
        pass.draw(0..6, 0..1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_layout_matches_the_shader() {
        // The WGSL struct: 3 vec2 + 2 f32 + 2 u32 + 2 f32 = 48 bytes.
        assert_eq!(std::mem::size_of::<Params>(), 48);
    }
}
