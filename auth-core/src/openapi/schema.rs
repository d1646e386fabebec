//! [`Shape`]s, [`Field`]s and [`HeaderDoc`]s as utoipa's schema objects.

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{ArrayBuilder, Header, ObjectBuilder, RefOr, Schema};

use crate::describe::{Field, HeaderDoc, Shape};

/// The JSON Schema of `shape`.
pub(crate) fn schema(shape: &Shape) -> Schema {
    let of = |t: Type| ObjectBuilder::new().schema_type(t);
    match shape {
        Shape::Str => of(Type::String).into(),
        Shape::DateTime => {
            of(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).into()
        }
        Shape::Int => of(Type::Integer).into(),
        Shape::Bool => of(Type::Boolean).into(),
        Shape::Const(value) => of(Type::String).enum_values(Some([*value])).into(),
        Shape::ConstBool(value) => of(Type::Boolean).enum_values(Some([*value])).into(),
        Shape::Enum(values) => of(Type::String).enum_values(Some(values.iter().copied())).into(),
        Shape::Id => {
            ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Integer, Type::String])).into()
        }
        Shape::Array(item) => ArrayBuilder::new().items(RefOr::T(schema(item))).into(),
        Shape::Object(props) => {
            let mut object =
                of(Type::Object).additional_properties(Some(AdditionalProperties::FreeForm(false)));
            for prop in *props {
                object = object.property(prop.name, schema(&prop.shape));
                if prop.required {
                    object = object.required(prop.name);
                }
            }
            object.into()
        }
        Shape::Map(item) => of(Type::Object)
            .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(schema(item)))))
            .into(),
        Shape::AnyOf(shapes) => {
            shapes.iter().fold(AnyOfBuilder::new(), |any, shape| any.item(schema(shape))).into()
        }
        Shape::Nullable(inner) => AnyOfBuilder::new().item(schema(inner)).item(of(Type::Null)).into(),
        Shape::Any => ObjectBuilder::new().schema_type(SchemaType::AnyValue).into(),
    }
}

/// The schema of a request body made of `fields`: an object of strings
/// (a required field non-empty), other members allowed and ignored.
pub(crate) fn fields_schema(fields: &[Field], all_optional: bool) -> Schema {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for field in fields {
        let required = field.required && !all_optional;
        let string = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(field.about))
            .min_length(required.then_some(1));
        object = object.property(field.name, string);
        if required {
            object = object.required(field.name);
        }
    }
    object.into()
}

/// A response header. utoipa's `Header` has no `required` member (OpenAPI
/// 3.1's Header Object does), so it is written through the object's
/// extension map, which is serialized into the same JSON object.
pub(crate) fn header(doc: &HeaderDoc) -> Header {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
    header.description = Some(doc.about.to_owned());
    if doc.required {
        let mut extensions = Extensions::default();
        extensions.insert("required".to_owned(), serde_json::Value::Bool(true));
        header.extensions = Some(extensions);
    }
    header
}
