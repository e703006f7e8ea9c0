//! Hard-edged shape rasterisation for the paint tools: a pixel is either in a shape or not, never blended, because
//! a class map has no "half road". All tests are exact (integer or pixel-centre), so the same shape always covers
//! the same pixels.

/// Whether offset (dx, dy) from a brush centre lies in a brush of radius `r`. The `r² + r` bound (a disc of radius
/// `r + ½`, which is `< (r + ½)²` in integers) gives round brushes without the single-pixel nubs that `≤ r²` leaves
/// at the four tips; radius 0 is one pixel, radius r spans `2r + 1` pixels.
pub(crate) fn in_disc(dx: i128, dy: i128, r: u32) -> bool {
    let r = r as i128;
    dx * dx + dy * dy <= r * r + r
}

/// Whether pixel `p` is within brush radius `r` of the segment `a`–`b` (a thick line with round caps). Exact
/// integer arithmetic, so a zero-length segment covers exactly [`in_disc`]'s pixels.
pub(crate) fn in_capsule(p: (i64, i64), a: (i64, i64), b: (i64, i64), r: u32) -> bool {
    // i128 throughout: differences of any two i64 coordinates, and their squares, fit.
    let (abx, aby) = (b.0 as i128 - a.0 as i128, b.1 as i128 - a.1 as i128);
    let (apx, apy) = (p.0 as i128 - a.0 as i128, p.1 as i128 - a.1 as i128);
    let len2 = abx * abx + aby * aby;
    let dot = apx * abx + apy * aby;
    if len2 == 0 || dot <= 0 {
        return in_disc(apx, apy, r);
    }
    if dot >= len2 {
        return in_disc(p.0 as i128 - b.0 as i128, p.1 as i128 - b.1 as i128, r);
    }
    // The squared distance to the line is cross² / len2; compare without dividing.
    let cross = apx * aby - apy * abx;
    let r = r as i128;
    cross * cross <= (r * r + r) * len2
}

/// The pixels whose centres lie inside a polygon (even-odd rule), clipped to a `width`×`height` map, as
/// `(y, x_start, x_end_exclusive)` spans. Vertices are in continuous image coordinates: pixel (x, y) covers
/// `[x, x+1) × [y, y+1)`, so a polygon along pixel corners covers exactly the pixels inside it.
pub(crate) fn polygon_spans(points: &[(f64, f64)], width: u32, height: u32) -> Vec<(u32, u32, u32)> {
    let mut spans = Vec::new();
    if points.len() < 3 || points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return spans;
    }
    let ymin = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let ymax = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    // Rows whose centre y + ½ can fall inside [ymin, ymax].
    let row0 = ((ymin - 0.5).ceil().max(0.0)) as i64;
    let row1 = ((ymax - 0.5).floor().min(height as f64 - 1.0)) as i64;
    let mut xs = Vec::new();
    for row in row0..=row1 {
        let yc = row as f64 + 0.5;
        xs.clear();
        for (i, &(x0, y0)) in points.iter().enumerate() {
            let (x1, y1) = points[(i + 1) % points.len()];
            // Half-open in y, so a vertex exactly on the scan line is counted once.
            if (y0 <= yc) != (y1 <= yc) {
                xs.push(x0 + (yc - y0) * (x1 - x0) / (y1 - y0));
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            // Pixel x is inside when its centre x + ½ lies in [pair[0], pair[1]).
            let start = (pair[0] - 0.5).ceil().max(0.0);
            let end = (pair[1] - 0.5).ceil().min(width as f64);
            if end > start {
                spans.push((row as u32, start as u32, end as u32));
            }
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radius_zero_is_one_pixel_and_radius_two_spans_five() {
        assert!(in_disc(0, 0, 0));
        assert!(!in_disc(1, 0, 0));
        assert!(in_disc(2, 0, 2) && !in_disc(3, 0, 2));
        // r² + r = 6: (1, 2) has 5 and is in, (2, 2) has 8 and is out.
        assert!(in_disc(1, 2, 2) && !in_disc(2, 2, 2));
    }

    #[test]
    fn capsule_of_a_point_is_the_disc_and_covers_the_segment() {
        for dy in -4..=4 {
            for dx in -4..=4 {
                assert_eq!(in_capsule((dx, dy), (0, 0), (0, 0), 3), in_disc(dx as i128, dy as i128, 3));
            }
        }
        // A horizontal line of radius 1 covers rows -1..=1 between the ends and not row 2.
        for x in 0..=10 {
            assert!(in_capsule((x, 1), (0, 0), (10, 0), 1));
            assert!(!in_capsule((x, 2), (0, 0), (10, 0), 1));
        }
    }

    #[test]
    fn square_polygon_covers_exactly_its_pixels() {
        let spans = polygon_spans(&[(2.0, 1.0), (6.0, 1.0), (6.0, 4.0), (2.0, 4.0)], 10, 10);
        assert_eq!(spans, vec![(1, 2, 6), (2, 2, 6), (3, 2, 6)]);
    }

    #[test]
    fn polygon_is_clipped_to_the_map() {
        let spans = polygon_spans(&[(-5.0, -5.0), (3.0, -5.0), (3.0, 2.0), (-5.0, 2.0)], 10, 10);
        assert_eq!(spans, vec![(0, 0, 3), (1, 0, 3)]);
    }
}
