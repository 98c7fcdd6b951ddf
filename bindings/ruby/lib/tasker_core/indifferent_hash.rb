# frozen_string_literal: true

module TaskerCore
  # A Hash whose keys are strings and that answers to symbols as well, the
  # part of ActiveSupport's HashWithIndifferentAccess tasker-core handlers rely
  # on (task context, step inputs, dependency results). Nested hashes, also
  # inside arrays, become indifferent too.
  class HashWithIndifferentAccess < ::Hash
    def self.[](*args) = new(::Hash[*args])

    def initialize(source = nil)
      super()
      return unless source
      return update(source) unless HashWithIndifferentAccess.plain_json_object?(source)

      # A decoded JSON object (every hash of a step event) is copied whole
      # and its values converted in place, rather than stored key by key
      # through []=: the same keys and values, in a third of the time.
      replace(source).transform_values! { |v| convert_value(v) }
    end

    # True for a plain Hash with no Symbol key, default or identity
    # comparison, which Hash#replace copies exactly as []= would store it.
    def self.plain_json_object?(source)
      source.instance_of?(::Hash) && source.default.nil? && source.default_proc.nil? && !source.compare_by_identity? &&
        source.keys.none?(Symbol)
    end

    def [](key) = super(convert_key(key))
    def []=(key, value)
      super(convert_key(key), convert_value(value))
    end
    alias store []=

    def key?(key) = super(convert_key(key))
    alias include? key?
    alias has_key? key?
    alias member? key?

    def fetch(key, *args, &) = super(convert_key(key), *args, &)
    def dig(key, *rest) = super(convert_key(key), *rest)
    def delete(key, &) = super(convert_key(key), &)
    def values_at(*keys) = super(*keys.map { |k| convert_key(k) })
    def fetch_values(*keys, &) = super(*keys.map { |k| convert_key(k) }, &)
    def slice(*keys) = self.class.new(super(*keys.map { |k| convert_key(k) }))
    def except(*keys) = self.class.new(to_hash.except(*keys.map { |k| convert_key(k) }))

    def update(*others)
      others.each { |other| other.each_pair { |k, v| self[k] = v } }
      self
    end
    alias merge! update

    def merge(*others) = dup.update(*others)
    def dup = self.class.new(self)
    def with_indifferent_access = dup
    def select(&) = self.class.new(super)
    def reject(&) = self.class.new(super)
    def compact = self.class.new(super)
    def transform_values(&) = self.class.new(super)

    # A plain Hash (string keys), recursively.
    def to_hash = each_with_object({}) { |(k, v), h| h[k] = plain(v) }
    alias to_h to_hash

    def symbolize_keys = to_hash.transform_keys(&:to_sym)
    def deep_symbolize_keys = HashWithIndifferentAccess.deep_keys(to_hash, :to_sym)
    def stringify_keys = to_hash
    def deep_stringify_keys = to_hash

    # Applies key_method to every key of nested hashes (also inside arrays).
    def self.deep_keys(value, key_method)
      case value
      when ::Hash then value.each_with_object({}) { |(k, v), h| h[k.respond_to?(key_method) ? k.send(key_method) : k] = deep_keys(v, key_method) }
      when ::Array then value.map { |v| deep_keys(v, key_method) }
      else value
      end
    end

    private

    def convert_key(key) = key.is_a?(Symbol) ? key.name : key

    def convert_value(value)
      case value
      when HashWithIndifferentAccess then value
      when ::Hash then HashWithIndifferentAccess.new(value)
      when ::Array then value.map { |v| convert_value(v) }
      else value
      end
    end

    def plain(value)
      case value
      when HashWithIndifferentAccess then value.to_hash
      when ::Array then value.map { |v| plain(v) }
      else value
      end
    end
  end
end

# The ActiveSupport core extensions tasker-core handlers call on plain hashes.
# Each is added only when nothing (ActiveSupport itself) defined it first.
class Hash
  unless method_defined?(:with_indifferent_access)
    def with_indifferent_access = TaskerCore::HashWithIndifferentAccess.new(self)
  end
  { deep_symbolize_keys: :to_sym, deep_stringify_keys: :to_s }.each do |name, key_method|
    define_method(name) { TaskerCore::HashWithIndifferentAccess.deep_keys(self, key_method) } unless method_defined?(name)
  end
end
