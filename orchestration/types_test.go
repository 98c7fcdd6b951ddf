package orchestration_test

import "github.com/google/uuid"

type uuidT = uuid.UUID
