import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Generates resolver types from schema.graphql (the API's single source),
 * mapped to the read-model types the resolvers actually return.
 * Output is generated on install/build and never edited by hand.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    'src/generated/graphql.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useTypeImports: true,
        strictScalars: true,
        enumsAsTypes: true,
        scalars: {
          ID: 'string',
          Money: { input: 'bigint', output: 'string | bigint' },
          DateTime: { input: 'Date', output: 'Date | string' },
        },
        contextType: '../graphql/context.js#GraphQLContext',
        mappers: {
          Order: '../graphql/mappers.js#OrderModel',
          OrderItem: '../graphql/mappers.js#OrderItemModel',
          User: '../graphql/mappers.js#UserModel',
          Product: '../graphql/mappers.js#ProductModel',
          OrderPage: '../graphql/mappers.js#PageModel<OrderModel>',
          UserPage: '../graphql/mappers.js#PageModel<UserModel>',
          ProductPage: '../graphql/mappers.js#PageModel<ProductModel>',
          UserPayload: '../graphql/mappers.js#PayloadModel',
          ProductPayload: '../graphql/mappers.js#PayloadModel',
          OrderPayload: '../graphql/mappers.js#PayloadModel',
        },
      },
    },
  },
};

export default config;
