// The BSON types a mapping's `types` may choose (column-types.ts converts to them). Apart from the conversion so
// that the config schema, which every command loads (`jupiter tick` included), does not load the MongoDB driver.
export const bsonTypeNames = ['string', 'double', 'int', 'long', 'decimal', 'boolean', 'json'] as const;
export type BsonTypeName = (typeof bsonTypeNames)[number];
