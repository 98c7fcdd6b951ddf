# frozen_string_literal: true

module TaskerCore
  VERSION = '0.1.0'
  # The C ABI version of libtasker_worker this gem speaks.
  ABI_VERSION = 1
end
