package store

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// uuidCodec is pgx's uuid codec taught github.com/google/uuid's UUID, the
// id type of every table here. pgx knows that type only as a
// driver.Valuer and sql.Scanner: each uuid parameter was formatted as a
// 36-character string and parsed back, each uuid column decoded to a
// string and parsed again (~8 % of the process's CPU under load, most of
// it in the uuid[] parameters of the batch statements). This codec copies
// the 16 bytes both ways; every other Go type goes to pgx's own codec.
type uuidCodec struct{ pgtype.UUIDCodec }

// registerUUID makes m encode and decode uuid.UUID (and arrays of them)
// through uuidCodec.
func registerUUID(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
	m.RegisterDefaultPgType(uuid.UUID{}, "uuid")
	m.RegisterDefaultPgType([]uuid.UUID{}, "_uuid")
}

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok {
		switch format {
		case pgtype.BinaryFormatCode:
			return encodeUUIDBinary{}
		case pgtype.TextFormatCode:
			return encodeUUIDText{}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

type encodeUUIDBinary struct{}

func (encodeUUIDBinary) Encode(value any, buf []byte) ([]byte, error) {
	u := value.(uuid.UUID) //nolint:forcetypeassert // planned for uuid.UUID only
	return append(buf, u[:]...), nil
}

type encodeUUIDText struct{}

func (encodeUUIDText) Encode(value any, buf []byte) ([]byte, error) {
	u := value.(uuid.UUID) //nolint:forcetypeassert // planned for uuid.UUID only
	return append(buf, u.String()...), nil
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok {
		switch format {
		case pgtype.BinaryFormatCode:
			return scanUUIDBinary{}
		case pgtype.TextFormatCode:
			return scanUUIDText{}
		}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

// scanUUIDBinary copies a binary uuid; NULL leaves the nil uuid (as
// uuid.UUID's Scan left the zero value, for a fresh destination).
type scanUUIDBinary struct{}

func (scanUUIDBinary) Scan(src []byte, target any) error {
	dst := target.(*uuid.UUID) //nolint:forcetypeassert // planned for *uuid.UUID only
	if src == nil {
		*dst = uuid.Nil
		return nil
	}
	if len(src) != 16 {
		return fmt.Errorf("invalid length for uuid: %d bytes", len(src))
	}
	copy(dst[:], src)
	return nil
}

type scanUUIDText struct{}

func (scanUUIDText) Scan(src []byte, target any) error {
	dst := target.(*uuid.UUID) //nolint:forcetypeassert // planned for *uuid.UUID only
	if src == nil {
		*dst = uuid.Nil
		return nil
	}
	u, err := uuid.ParseBytes(src)
	if err != nil {
		return fmt.Errorf("scanning uuid: %w", err)
	}
	*dst = u
	return nil
}
