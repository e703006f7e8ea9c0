// Colours the label map on the GPU: a palette lookup of the class-id texture, plus instance outlines.
// The quad covers the visible part of the image; `uv_min`/`uv_max` say which part of the image that is.
// Class and instance ids are read with textureLoad (no filtering), so the map stays crisp at every zoom.

struct Params {
    uv_min: vec2<f32>,
    uv_max: vec2<f32>,
    size: vec2<f32>,          // image size in texels
    texels_per_px: f32,       // how many texels one screen pixel covers (outline width)
    opacity: f32,             // of the class colours (the photo shows through)
    selected: u32,            // instance-map value of the selection (0xffffffff: none)
    flags: u32,               // 1: outline every instance; 2: outline the selection
    time: f32,                // animates the selection outline ("marching ants")
    _pad: f32,
};

@group(0) @binding(0) var<uniform> params: Params;   // one slot per draw (dynamic offset)
@group(0) @binding(1) var label_tex: texture_2d<u32>;
@group(0) @binding(2) var inst_tex: texture_2d<u32>;
@group(0) @binding(3) var<uniform> palette: array<vec4<f32>, 256>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    // Two triangles covering the viewport.
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let c = corners[i];
    var out: VsOut;
    out.pos = vec4<f32>(c.x * 2.0 - 1.0, 1.0 - c.y * 2.0, 0.0, 1.0);
    out.uv = mix(params.uv_min, params.uv_max, c);
    return out;
}

fn texel(p: vec2<f32>) -> vec2<i32> {
    let maxc = vec2<i32>(params.size) - vec2<i32>(1, 1);
    return clamp(vec2<i32>(floor(p)), vec2<i32>(0, 0), maxc);
}

fn inst_at(p: vec2<f32>) -> u32 {
    return textureLoad(inst_tex, texel(p), 0).r;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let p = in.uv * params.size;
    let class_id = textureLoad(label_tex, texel(p), 0).r;
    var rgb = palette[class_id].rgb;
    var alpha = params.opacity;
    let d = max(params.texels_per_px, 1.0);
    let here = inst_at(p);
    let l = inst_at(p + vec2<f32>(-d, 0.0));
    let r = inst_at(p + vec2<f32>(d, 0.0));
    let u = inst_at(p + vec2<f32>(0.0, -d));
    let b = inst_at(p + vec2<f32>(0.0, d));
    if ((params.flags & 1u) != 0u && here >= 1000u && (l != here || r != here || u != here || b != here)) {
        rgb = vec3<f32>(1.0, 1.0, 1.0);
        alpha = max(alpha, 0.85);
    }
    if ((params.flags & 2u) != 0u && here == params.selected
        && (l != here || r != here || u != here || b != here)) {
        // Dashes along the outline, moving with time, in two colours that show on any class colour.
        let s = floor((p.x + p.y) / (6.0 * d) + params.time * 4.0);
        if (s - 2.0 * floor(s / 2.0) < 1.0) { rgb = vec3<f32>(1.0, 0.9, 0.0); } else { rgb = vec3<f32>(0.0, 0.0, 0.0); }
        alpha = 1.0;
    }
    // Premultiplied alpha, as egui blends.
    return vec4<f32>(rgb * alpha, alpha);
}
