// MySQL's stored geometry (a 4-byte SRID, then WKB) → a GeoJSON geometry object. Coordinates stay in
// stored (x, y) order and the SRID is dropped: GeoJSON has no place for it (docs/warehouse.md).

type Position = [number, number];
export type GeoJsonGeometry =
  | { type: 'Point'; coordinates: Position | [] }
  | { type: 'LineString' | 'MultiPoint'; coordinates: Position[] }
  | { type: 'Polygon' | 'MultiLineString'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] }
  | { type: 'GeometryCollection'; geometries: GeoJsonGeometry[] };

const sridBytes = 4;
const maxDepth = 32;

class WkbReader {
  offset = 0;
  private littleEndian = true;
  constructor(private readonly buffer: Buffer) {}

  byteOrder(): void {
    const order = this.buffer.readUInt8(this.offset++);
    if (order > 1) throw new RangeError(`bad WKB byte order ${order}`);
    this.littleEndian = order === 1;
  }

  uint32(): number {
    const value = this.littleEndian ? this.buffer.readUInt32LE(this.offset) : this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  double(): number {
    const value = this.littleEndian ? this.buffer.readDoubleLE(this.offset) : this.buffer.readDoubleBE(this.offset);
    this.offset += 8;
    return value;
  }

  position(): Position {
    return [this.double(), this.double()];
  }

  count<T>(read: () => T): T[] {
    const n = this.uint32();
    // Each element takes at least 8 bytes: a count beyond the buffer is corruption, not a huge geometry.
    if (n > (this.buffer.length - this.offset) / 8 + 1) throw new RangeError('WKB count beyond the data');
    return Array.from({ length: n }, read);
  }
}

function readGeometry(reader: WkbReader, depth: number): GeoJsonGeometry {
  if (depth > maxDepth) throw new RangeError('WKB nested too deeply');
  reader.byteOrder();
  const type = reader.uint32();
  const ring = () => reader.count(() => reader.position());
  // Members of Multi* and collections carry their own byte order and type.
  const member = <C>(expected: GeoJsonGeometry['type']): C => {
    const geometry = readGeometry(reader, depth + 1);
    if (geometry.type !== expected || !('coordinates' in geometry)) throw new RangeError(`WKB ${expected} member is a ${geometry.type}`);
    return geometry.coordinates as C;
  };
  switch (type) {
    case 1: {
      const point = reader.position();
      return { type: 'Point', coordinates: point.some(Number.isNaN) ? [] : point };
    }
    case 2:
      return { type: 'LineString', coordinates: ring() };
    case 3:
      return { type: 'Polygon', coordinates: reader.count(ring) };
    case 4:
      return { type: 'MultiPoint', coordinates: reader.count(() => member<Position>('Point')) };
    case 5:
      return { type: 'MultiLineString', coordinates: reader.count(() => member<Position[]>('LineString')) };
    case 6:
      return { type: 'MultiPolygon', coordinates: reader.count(() => member<Position[][]>('Polygon')) };
    case 7:
      return { type: 'GeometryCollection', geometries: reader.count(() => readGeometry(reader, depth + 1)) };
    default:
      throw new RangeError(`unknown WKB geometry type ${type}`);
  }
}

/** The GeoJSON of a stored geometry, or undefined when the bytes are not one. */
export function geometryToGeoJson(stored: Buffer): GeoJsonGeometry | undefined {
  if (stored.length < sridBytes + 5) return undefined;
  const reader = new WkbReader(stored.subarray(sridBytes));
  try {
    const geometry = readGeometry(reader, 0);
    return reader.offset === stored.length - sridBytes ? geometry : undefined;
  } catch {
    return undefined;
  }
}
